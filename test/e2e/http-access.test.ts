import { chmodSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Backend,
  type LvsqProcess,
  startBackend,
  startLvsq,
  tempConfig,
  waitFor,
} from "../harness/agents.js";
import { type NatsServerHandle, startNatsServer } from "../harness/nats.js";

// Who may read the metrics endpoint and the live status page: real `lvsq probe --metrics` and `lvsq status
// --web` processes, asked over real HTTP. A port alone binds loopback; an auth file lets only its credentials in.

const TOKEN = "4f0d6c0e9b1a47d2a3c5e8f7";
const basic = `Basic ${Buffer.from("ops:correct-horse-battery").toString("base64")}`;

describe("access to --metrics and status --web", () => {
  let nats: NatsServerHandle;
  let backend: Backend;
  let config: string;
  let tokenFile: string;
  let basicFile: string;
  const started: LvsqProcess[] = [];
  const start = (args: string[]) => {
    const run = startLvsq(args);
    started.push(run);
    return run;
  };
  const urlIn = async (run: LvsqProcess, pattern: RegExp) => {
    const line = await waitFor(
      `${pattern} in the output`,
      () => {
        if (run.child.exitCode !== null) throw new Error(`exited:\n${run.lines.join("\n")}`);
        return run.lines.find((l) => pattern.test(l));
      },
      15_000,
    );
    return new URL(pattern.exec(line)![1]!);
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    backend = await startBackend();
    config = tempConfig(`cluster: http
nats: { servers: [${nats.url}] }
defaults: { check: { type: http, interval: 300ms, timeout: 200ms } }
sites: [s1]
probes: [{ id: p1, site: s1 }]
directors: [{ id: d1 }]
services:
  web: { vip: 192.0.2.10:80, forwarding: nat, realServers: [{ address: ${backend.address} }] }
`);
    tokenFile = join(dirname(config), "metrics.token");
    basicFile = join(dirname(config), "web.auth");
    writeFileSync(tokenFile, `${TOKEN}\n`); // the bare-token file Prometheus' credentials_file also reads
    writeFileSync(basicFile, "# the operators\nbasic ops:correct-horse-battery\n");
    chmodSync(tokenFile, 0o600);
  });
  afterAll(async () => {
    await Promise.all(started.map((run) => run.stop("SIGKILL")));
    await backend?.close();
    await nats?.dispose();
  });

  it("serves a probe's metrics on loopback for a port alone, and only with the bearer token", async () => {
    const probe = start([
      "probe",
      "--config",
      config,
      "--id",
      "p1",
      "--metrics",
      "0",
      "--metrics-auth",
      tokenFile,
    ]);
    const url = await urlIn(probe, /"url":"(http:[^"]+)"/);
    expect(url.hostname).toBe("127.0.0.1");
    const denied = await fetch(url);
    expect(denied.status).toBe(401);
    expect(denied.headers.get("www-authenticate")).toBe('Bearer realm="lvsq"');
    expect((await fetch(url, { headers: { authorization: "Bearer wrong-token-0000000000" } })).status).toBe(
      401,
    );
    const scraped = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain("lvsq_probe_checks_total");
  }, 30_000);

  it("serves the status page and its event stream only after a basic login a browser can give", async () => {
    const status = start(["status", "--config", config, "--web", ":0", "--web-auth", basicFile]);
    const url = await urlIn(status, /^status page: (http:\S+)$/);
    expect(url.hostname).toBe("127.0.0.1");
    for (const path of ["/", "/snapshot.json", "/events", "/app.js"]) {
      const denied = await fetch(new URL(path, url));
      expect(denied.status, path).toBe(401);
      expect(denied.headers.get("www-authenticate")).toContain('Basic realm="lvsq"');
    }
    const page = await fetch(url, { headers: { authorization: basic } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<html");
    const snapshot = await fetch(new URL("/snapshot.json", url), { headers: { authorization: basic } });
    expect(await snapshot.json()).toMatchObject({ v: 1, cluster: "http" });
  }, 30_000);

  it("warns when a page without authentication listens beyond loopback", async () => {
    const status = start(["status", "--config", config, "--web", "0.0.0.0:0"]);
    await waitFor(
      "the warning",
      // status is a command a person runs at a terminal: its log is plain text, one warning line
      () =>
        status.lines.some((l) =>
          /warning: status page: listening on 0\.0\.0\.0 without authentication/.test(l),
        ),
      15_000,
    );
  }, 30_000);

  it("stops with 78 and the file and line on a bad auth file, with 2 on an auth file without an endpoint", async () => {
    const bad = join(dirname(config), "bad.auth");
    writeFileSync(bad, "bearer 0123456789abcdef\nbasic ops:short\n");
    const run = start(["probe", "--config", config, "--id", "p1", "--metrics", "0", "--metrics-auth", bad]);
    expect((await run.exited).code).toBe(78);
    expect(run.lines.join("\n")).toContain(
      `--metrics-auth: ${bad}:2: the password is shorter than 12 characters`,
    );
    const web = start(["status", "--config", config, "--web-auth", basicFile]);
    expect((await web.exited).code).toBe(2);
    expect(web.lines.join("\n")).toContain("--web-auth needs --web HOST:PORT");
  }, 30_000);
});
