import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Backend,
  type LvsqProcess,
  startBackend,
  startLvsq,
  tempConfig,
  waitFor,
} from "../harness/agents.js";

// SIGHUP reloads the config; a bad config is refused and the running one kept (docs/operations.md, "Reload and stop"). Exercised on
// `lvsq run --dry-run` (probe + director in one process; the host kernel has no IPVS, so the dry-run's
// logged ipvsadm commands are what the kernel would have received).
describe("SIGHUP reload", () => {
  let a: Backend;
  let b: Backend;
  let file: string;
  let run: LvsqProcess;
  const yaml = (servers: string[]) => `cluster: reload
defaults: { check: { type: http, interval: 300ms, timeout: 200ms, rise: 1, fall: 2 } }
quorum: { startupGrace: 0s }
services:
  web:
    vip: 192.0.2.10:80
    # loopback backends share one address: NAT keeps their ports apart (dr would make them one)
    forwarding: nat
    realServers: [${servers.map((s) => `{ address: ${s} }`).join(", ")}]
`;
  const commands = () =>
    run.logs().flatMap((l) => (Array.isArray(l.commands) ? (l.commands as string[]) : []));

  beforeAll(async () => {
    a = await startBackend();
    b = await startBackend();
    file = tempConfig(yaml([a.address]));
    run = startLvsq(["run", "--config", file, "--dry-run"], {
      LVSQ_CONTROL_SOCKET: join(tmpdir(), `lvsq-reload-${process.pid}.sock`),
    });
    await waitFor(
      "the first real server in",
      () => commands().some((c) => c.includes(`-r ${a.address}`)),
      15_000,
    );
  });
  afterAll(async () => {
    await run?.stop("SIGKILL");
    await Promise.all([a?.close(), b?.close()]);
  });

  it("refuses a bad config on SIGHUP, keeps running on the old one, and logs why", async () => {
    writeFileSync(file, "cluster: reload\nservices: { web: { vip: not-an-address, realServers: [] } }\n");
    run.child.kill("SIGHUP");
    const refused = await waitFor("the refusal", () =>
      run.logs().find((l) => l.msg === "config reload refused; keeping the running config"),
    );
    expect(String(refused.err)).toContain("services.web.vip");
    expect(run.child.exitCode).toBeNull();
    // still deciding on the old config: a failure of the old real server is still acted on
    a.setStatus(503);
    await waitFor(
      "the old config still decides",
      () => commands().some((c) => c.includes(`-d -t 192.0.2.10:80 -r ${a.address}`)),
      10_000,
    );
    a.setStatus(200);
  });

  it("applies a good config on SIGHUP: a new real server is checked and put in", async () => {
    writeFileSync(file, yaml([a.address, b.address]));
    run.child.kill("SIGHUP");
    await waitFor("config reloaded", () => run.logs().some((l) => l.msg === "config reloaded"));
    await waitFor(
      "the new real server in",
      () => commands().some((c) => c.includes(`-r ${b.address}`)),
      10_000,
    );
    expect(run.child.exitCode).toBeNull();
  });

  it("stops on SIGTERM with exit 0", async () => {
    expect((await run.stop("SIGTERM")).code).toBe(0);
  });
});
