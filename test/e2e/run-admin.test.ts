import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Backend,
  type LvsqProcess,
  lvsqBin,
  startBackend,
  startLvsq,
  tempConfig,
  waitFor,
} from "../harness/agents.js";

// `lvsq run` honours `lvsq admin` overrides and keeps them on the node across restarts.
// Exercised on `lvsq run --dry-run`: the host kernel has no IPVS, so the logged ipvsadm commands are what
// the kernel would have received. Each run starts from an empty table (the dry-run's copy of none).
const run = promisify(execFile);
describe("lvsq run: admin overrides kept on the node", () => {
  let a: Backend;
  let b: Backend;
  let file: string;
  let agent: LvsqProcess | undefined;
  const state = mkdtempSync(join(tmpdir(), "lvsq-state-"));
  const env = {
    LVSQ_CONTROL_SOCKET: join(state, "control.sock"),
    LVSQ_STATE_DIR: state,
  };
  const commands = () =>
    (agent?.logs() ?? []).flatMap((l) => (Array.isArray(l.commands) ? (l.commands as string[]) : []));
  const admin = (...args: string[]) =>
    run(process.execPath, [lvsqBin, "admin", ...args, "--config", file], {
      env: { ...process.env, ...env },
      timeout: 20_000,
    });

  beforeAll(async () => {
    a = await startBackend();
    b = await startBackend();
    file = tempConfig(`cluster: adminrun
defaults: { check: { type: http, interval: 300ms, timeout: 200ms, rise: 1, fall: 2 } }
quorum: { startupGrace: 0s }
services:
  web:
    vip: 192.0.2.10:80
    # loopback backends share one address: NAT keeps their ports apart (dr would make them one)
    forwarding: nat
    realServers: [{ address: ${a.address} }, { address: ${b.address}, weight: 3 }]
`);
  });
  afterAll(async () => {
    await agent?.stop("SIGKILL");
    await Promise.all([a?.close(), b?.close()]);
  });

  it("applies an override sent to the running lvsq run, and stores it", async () => {
    agent = startLvsq(["run", "--config", file, "--dry-run"], env);
    await waitFor(
      "both real servers in",
      () => {
        const all = commands();
        return (
          all.some((c) => c.includes(`-r ${a.address}`)) && all.some((c) => c.includes(`-r ${b.address}`))
        );
      },
      15_000,
    );
    const { stdout } = await admin("disable", "web", a.address, "--reason", "disk swap");
    expect(stdout).toContain(`disable web ${a.address}: applied by lvsq run`);
    await waitFor("a taken out", () =>
      commands().some((c) => c.includes(`-d -t 192.0.2.10:80 -r ${a.address}`)),
    );
    const stored = JSON.parse(readFileSync(join(state, "adminrun.admin.json"), "utf8"));
    expect(Object.values(stored.records)).toEqual([
      expect.objectContaining({ action: "disable", reason: "disk swap" }),
    ]);
    expect((await agent.stop("SIGTERM")).code).toBe(0);
  });

  it("keeps an override given while lvsq run is stopped, and applies both at the next start", async () => {
    const { stdout } = await admin("drain", "web", b.address);
    expect(stdout).toContain("lvsq run is not running: kept in");
    agent = startLvsq(["run", "--config", file, "--dry-run"], env);
    await waitFor(
      "b in at weight 0 (drained)",
      () => commands().some((c) => c.includes(`-a -t 192.0.2.10:80 -r ${b.address} -m -w 0`)),
      15_000,
    );
    expect(
      agent.logs().some((l) => l.msg === "applied the stored admin overrides" && l.overrides === 2),
    ).toBe(true);
    // a stays out although its checks pass: disabled before the restart.
    expect(commands().some((c) => c.includes(`-r ${a.address}`))).toBe(false);
  });

  it("hands a real server back to its votes on enable, and forgets the override", async () => {
    await admin("enable", "web", a.address);
    await waitFor("a back in", () =>
      commands().some((c) => c.includes(`-a -t 192.0.2.10:80 -r ${a.address}`)),
    );
    const stored = JSON.parse(readFileSync(join(state, "adminrun.admin.json"), "utf8"));
    expect(Object.values(stored.records)).toEqual([
      expect.objectContaining({ action: "drain", rs: b.address }),
    ]);
  });

  it("refuses an unknown real server without storing anything", async () => {
    const failed = await admin("disable", "web", "198.51.100.99:80").catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toContain("is not in service web");
  });
});
