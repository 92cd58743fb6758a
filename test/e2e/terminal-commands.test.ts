import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lvsqBin, tempConfig } from "../harness/agents.js";
import { type NatsServerHandle, startNatsServer } from "../harness/nats.js";

const run = promisify(execFile);

/** Runs the real `lvsq` binary to its end: exit code, stdout and stderr. */
async function lvsq(...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [lvsqBin, ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** A loopback port nothing listens on: bound by this test, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const fleet = (url: string) =>
  tempConfig(`cluster: term
nats: { servers: [${url}] }
sites: [s1]
probes: [{ id: p1, site: s1 }]
directors: [{ id: d1 }]
services:
  web: { vip: 192.0.2.30:80, realServers: [{ address: 198.51.100.30:80 }] }
`);

// status, explain and admin are run by a person at a terminal: when NATS cannot be reached they say so in
// one plain line naming the URL, with no JSON log lines before it.
describe("commands a person runs at a terminal", () => {
  let down: string;
  let nats: NatsServerHandle;

  beforeAll(async () => {
    down = `nats://127.0.0.1:${await closedPort()}`;
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.dispose();
  });

  it.each([
    ["status", ["status", "--wait", "1s"], /^error: cannot reach NATS at (\S+); nothing to show$/],
    ["explain", ["explain", "web"], /^error: cannot reach NATS at (\S+) to ask director d1$/],
    [
      "admin",
      ["admin", "drain", "web", "198.51.100.30:80"],
      /^error: cannot reach NATS at (\S+); the admin record was not written \(lvsq_term_admin key web\.198_51_100_30_80\)$/,
    ],
  ])("%s with NATS down: exit 1 and one plain line naming the URL", async (_name, args, expected) => {
    const result = await lvsq(...args, "--config", fleet(down));
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(expected);
    expect(expected.exec(lines[0]!)?.[1]).toBe(down);
  });

  it("shows warnings as plain text when asked for them, and JSON lines only with --log-format json", async () => {
    const config = fleet(down);
    const plain = await lvsq("--log-level", "warn", "status", "--wait", "1s", "--config", config);
    const lines = plain.stderr.trimEnd().split("\n");
    expect(lines.at(-1)).toMatch(/^error: cannot reach NATS/);
    const warning = `lvsq status: warning: bus: cannot connect to NATS, retrying (attempt: 1, servers: ${down}, err: connection refused, ms: `;
    expect(
      lines.find((line) => line.startsWith(warning)),
      lines.join("\n"),
    ).toMatch(/, ms: \d+\)$/);
    expect(lines.every((line) => !line.startsWith("{"))).toBe(true);
    const json = await lvsq(
      "--log-format",
      "json",
      "--log-level",
      "warn",
      "status",
      "--wait",
      "1s",
      "--config",
      config,
    );
    const logged = json.stderr.split("\n").filter((line) => line.startsWith("{"));
    expect(logged.length).toBeGreaterThan(0);
    expect(JSON.parse(logged[0]!)).toMatchObject({
      level: "warn",
      msg: "bus: cannot connect to NATS, retrying",
    });
  });

  it("explain with NATS up but no director: names the director and the URL", async () => {
    const result = await lvsq("explain", "web", "--config", fleet(nats.url));
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `error: director d1 is not answering on NATS at ${nats.url} (is it running?)\n`,
    );
  });
});
