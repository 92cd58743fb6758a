import { chmodSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "@lvsq/config";
import { createLogger } from "@lvsq/runtime";
import { describe, expect, it } from "vitest";
import { Notifier } from "./notify.js";

const dir = mkdtempSync(join(tmpdir(), "lvsq-notify-"));
/** A hook that appends its arguments and its stdin (one JSON line) to `log`, then runs `tail`. */
function hook(name: string, tail = "exit 0"): { path: string; log: string } {
  const path = join(dir, name);
  const log = join(dir, `${name}.log`);
  writeFileSync(path, `#!/bin/sh\necho "args $*" >> ${log}\ncat >> ${log}\n${tail}\n`);
  chmodSync(path, 0o755);
  return { path, log };
}

function notifier(yaml: string, limits?: { running: number; queued: number }) {
  const config = parseConfig(yaml, "n.yaml", { env: {} });
  return new Notifier({
    config: () => config,
    directorId: "lvs-a",
    logger: createLogger({ level: "silent" }),
    now: () => 1234,
    ...(limits ? { limits } : {}),
  });
}

describe("notify hooks", () => {
  it("runs the service's hook with the transition as arguments and as JSON on stdin", async () => {
    const down = hook("down");
    const special = hook("special");
    const fallback = hook("fallback");
    const n = notifier(`cluster: c
services:
  web:
    vip: 192.0.2.1:80
    notify: { down: [${down.path}, --from-lvsq], fallbackOn: [${fallback.path}] }
    realServers:
      - { address: 198.51.100.1:80 }
      - { address: 198.51.100.2:80, notify: { down: [${special.path}] } }
`);
    n.event({ type: "rs-down", service: "web", rs: "198.51.100.1:80" });
    n.event({ type: "rs-down", service: "web", rs: "198.51.100.2:80" });
    n.event({ type: "fallback-on", service: "web" });
    n.event({ type: "rs-up", service: "web", rs: "198.51.100.1:80" }); // no up hook: nothing runs
    await n.idle();
    const [args, json] = readFileSync(down.log, "utf8").trim().split("\n");
    expect(args).toBe("args --from-lvsq rs-down web 198.51.100.1:80");
    expect(JSON.parse(json!)).toEqual({
      v: 1,
      cluster: "c",
      director: "lvs-a",
      at: 1234,
      event: { type: "rs-down", service: "web", rs: "198.51.100.1:80" },
    });
    expect(readFileSync(special.log, "utf8")).toContain("args rs-down web 198.51.100.2:80");
    expect(readFileSync(fallback.log, "utf8")).toContain("args fallback-on web");
    expect(n.stats).toEqual({ ok: 3, failed: 0, timeout: 0, dropped: 0 });
  });

  it("runs the director's role hook", async () => {
    const role = hook("role");
    const n = notifier(
      `cluster: c\ndirector: { notify: { role: [${role.path}] } }\nservices:\n  web: { vip: 192.0.2.1:80, realServers: [{ address: 198.51.100.1:80 }] }\n`,
    );
    n.role("leader", "follower", "edge");
    await n.idle();
    expect(readFileSync(role.log, "utf8")).toContain("args role leader follower edge");
  });

  it("counts failures and kills a hook at its deadline, children included", async () => {
    const failing = hook("failing", "echo broken >&2; exit 3");
    const slow = hook("slow", `sleep 30 & wait`);
    const n = notifier(`cluster: c
director: { notify: { timeout: 300ms } }
services:
  web:
    vip: 192.0.2.1:80
    notify: { up: [${failing.path}], down: [${slow.path}], fallbackOff: [${join(dir, "missing-hook")}] }
    realServers: [{ address: 198.51.100.1:80 }]
`);
    const startedAt = performance.now();
    n.event({ type: "rs-up", service: "web", rs: "198.51.100.1:80" });
    n.event({ type: "rs-down", service: "web", rs: "198.51.100.1:80" });
    n.event({ type: "fallback-off", service: "web" });
    await n.idle();
    expect(n.stats).toEqual({ ok: 0, failed: 2, timeout: 1, dropped: 0 });
    // 300 ms deadline + 500 ms to SIGKILL, with room for a loaded 2-core machine.
    expect(performance.now() - startedAt).toBeLessThan(300 + 500 + 1500);
  });

  it("never queues without bound: beyond the queue, transitions are dropped and counted", async () => {
    const slow = hook("queue", "sleep 0.2");
    const n = notifier(
      `cluster: c\nservices:\n  web:\n    vip: 192.0.2.1:80\n    notify: { down: [${slow.path}] }\n    realServers: [{ address: 198.51.100.1:80 }]\n`,
      { running: 1, queued: 2 },
    );
    for (let i = 0; i < 6; i++) n.event({ type: "rs-down", service: "web", rs: "198.51.100.1:80" });
    await n.idle();
    expect(n.stats).toEqual({ ok: 3, failed: 0, timeout: 0, dropped: 3 });
    expect(existsSync(slow.log)).toBe(true);
  });
});
