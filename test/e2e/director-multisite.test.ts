import { beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../harness/agents.js";
import type { ClientSample } from "../harness/fleet-agents.js";
import type { TableChange } from "../harness/fleet-watch.js";
import { resultJson, runInGuest, type GuestRunResult } from "../harness/guest.js";

// Multi-site on a real kernel IPVS table (in the guest): 3 probe sites and a director over a real nats-server, a
// client through the VIP, each in its own network namespace. One boot for the file; the guest scenario
// (director-multisite.guest.ts) runs the steps in order and writes raw observations; tests assert here.
// Timers in the guest: interval 1 s, timeout 500 ms, fall 2, rise 2, voteTtl 4 s, reconcileInterval 3 s,
// every duration multiplied by the guest's time scale (1 under UML and KVM; measured under QEMU's emulation,
// 2-5: test/harness/in-guest.ts, guestTimeScale). The scenario reports the timers it used; the bounds follow.
// The 1 s of slack (scaled too) covers the guest's own slowness (npm run bench measured failure → kernel p99
// 2.3 s under TCG at the unscaled knobs, against a bound of 3.5 s).
const removalBoundMs = () => r.timers.fall * r.timers.intervalMs + r.timers.timeoutMs + 1000 * r.timeScale;
const recoveryBoundMs = () => r.timers.rise * r.timers.intervalMs + r.timers.timeoutMs + 1000 * r.timeScale;
const ALL = ["198.51.100.11:8080", "198.51.100.12:8080", "198.51.100.13:8080", "198.51.100.14:8080"];
const allAtWeight1 = Object.fromEntries(ALL.map((rs) => [rs, 1]));

type Kill = { removalMs: number; recoveryMs: number; killedAt: number; removedAt: number };
type Flap = Record<string, unknown>;
type Results = {
  timers: { intervalMs: number; timeoutMs: number; fall: number; rise: number; reconcileMs: number };
  timeScale: number;
  nodeStartMs: number;
  allIn: { table: Record<string, number>; at: number };
  partition: { verdicts: Record<string, Record<string, string>>; changes: TableChange[]; flaps: Flap[] };
  backendDies: Kill & {
    tableAfter: Record<string, number>;
    failures: ClientSample[];
    answered: number;
    event: { tally: { down: number; downNeeded: number } };
  };
  drift: { repairMs: number; event: { ops: number; commands: string[] }; tableAfter: Record<string, number> };
  forged: {
    sent: number;
    byKind: Record<string, number>;
    votesDropped: number;
    messagesDropped: number;
    warnings: { msg: string; reason?: string }[];
    directorRunning: boolean;
    tableBefore: Record<string, number>;
    tableAfter: Record<string, number>;
    changes: TableChange[];
  };
  natsOutage: {
    tableBefore: Record<string, number>;
    changesDuringOutage: TableChange[];
    changesAfter: TableChange[];
    isolatedMs: number;
    isolatedLine: { role: string; msg: string };
    rejoinedMs: number;
    flaps: Flap[];
    directorRunning: boolean;
    heartbeat: { role: string };
  };
  directorRestart: {
    exitCode: number | null;
    tableBefore: Record<string, number>;
    tableAfterStop: Record<string, number>;
    readLine: { msg: string };
    changes: TableChange[];
    flaps: Flap[];
  };
  afterRestarts: Kill;
  client: { samples: number; failures: ClientSample[] };
  crashed: string[];
  driftEvents: { commands: string[] }[];
  directorLogTail: string[];
  error?: string;
};

let run: GuestRunResult;
let r: Results;

function stepResult<K extends keyof Results>(name: K): NonNullable<Results[K]> {
  const value = r[name] as (Results[K] & { error?: string }) | undefined;
  if (value === undefined)
    throw new Error(`guest step ${name} did not run; ${r.error ?? ""}\n${run.stdout.slice(-2000)}`);
  if (value.error !== undefined)
    throw new Error(
      `guest step ${name} failed:\n${value.error}\n${(r.directorLogTail ?? []).slice(-20).join("\n")}`,
    );
  return value as NonNullable<Results[K]>;
}

beforeAll(async () => {
  run = await runInGuest({
    nodeModule: new URL("./director-multisite.guest.ts", import.meta.url).pathname,
    // The netlink driver, asked for by name: a director that cannot open it exits instead of falling back.
    env: { LVSQ_REPO: repoRoot, LVSQ_IPVS_DRIVER: "netlink" },
    // Long enough for the slowest guest this runs on (time scale 5); a normal run takes a fraction of it.
    timeoutMs: 600_000,
  });
  r = resultJson<Results>(run, "results.json");
  console.log(
    `multi-site on ${run.guest.label}: time scale ${r.timeScale} (node starts in ${r.nodeStartMs} ms), ran ${Math.round(run.durationMs / 1000)} s`,
  );
}, 620_000);

describe("director with 3 probe sites over a real nats-server, on a real kernel table (in the guest)", () => {
  it("runs the whole story in one boot, nothing crashes", () => {
    expect(run.exitCode, run.stdout.slice(-3000)).toBe(0);
    expect(r.error).toBeUndefined();
    expect(r.crashed).toEqual([]);
    expect(stepResult("allIn").table).toEqual(allAtWeight1);
  });

  it("a site partitioned from the backends votes them down, and nothing is removed", () => {
    const p = stepResult("partition");
    for (const rs of ALL) expect(p.verdicts[rs]).toEqual({ a: "down", b: "up", c: "up" });
    expect(p.changes).toEqual([]);
    expect(p.flaps).toEqual([]);
  });

  it("a backend that really dies is removed within fall × interval + timeout + 1 s, by 2 of 3 sites", () => {
    const d = stepResult("backendDies");
    expect(d.removalMs).toBeLessThan(removalBoundMs());
    const others = ALL.filter((rs) => rs !== "198.51.100.12:8080");
    expect(d.tableAfter).toEqual(Object.fromEntries(others.map((rs) => [rs, 1])));
    expect(d.event.tally.down).toBeGreaterThanOrEqual(d.event.tally.downNeeded);
    expect(d.recoveryMs).toBeLessThan(recoveryBoundMs());
  });

  it("client traffic through the VIP keeps getting answers; failures only inside the detection windows", () => {
    const d = stepResult("backendDies");
    const again = stepResult("afterRestarts");
    const start = stepResult("allIn").at;
    expect(d.answered).toBeGreaterThan(10);
    const windows = [d, again].map((k) => [k.killedAt, k.removedAt + 50] as const);
    // A request counts as inside a window when it was in flight during it (sent at t, ended ms later): one
    // sent just before the kill dies with the backend (under QEMU's emulation a request takes ~300 ms).
    const outside = r.client.failures.filter(
      (f) => f.t > start && !windows.some(([from, to]) => f.t + f.ms >= from && f.t <= to),
    );
    expect(outside).toEqual([]);
    expect(r.client.samples).toBeGreaterThan(500);
  });

  it("a hand-made drift (ipvsadm -d) is repaired within reconcileInterval, with an event", () => {
    const d = stepResult("drift");
    expect(d.repairMs).toBeLessThanOrEqual(r.timers.reconcileMs + 1000 * r.timeScale);
    expect(d.event.ops).toBe(1);
    expect(d.event.commands).toEqual(["ipvsadm -a -t 192.0.2.10:80 -r 198.51.100.11:8080 -m -w 1"]);
    expect(d.tableAfter).toEqual(allAtWeight1);
    // Only the hand-made drift: starting, restarting and applying never look like drift.
    expect(r.driftEvents.map((e) => e.commands)).toEqual([d.event.commands]);
  });

  it("1,000 malformed or forged messages are dropped, counted and logged; no crash, no table change", () => {
    const f = stepResult("forged");
    expect(f.sent).toBe(1000);
    expect(f.byKind).toEqual({
      "bad-json": 200,
      schema: 200,
      "subject-mismatch": 200,
      "unknown-service": 100,
      "unknown-real-server": 100,
      "replayed-seq": 200,
    });
    // One vote per well-formed batch: 200 mismatched + 100 + 100 unknown + 200 replayed.
    expect(f.votesDropped).toBe(600);
    expect(f.messagesDropped).toBe(400);
    const reasons = new Set(f.warnings.map((w) => w.reason ?? w.msg));
    for (const reason of ["invalid-json", "schema", "unknown-service", "unknown-real-server", "replayed-seq"])
      expect(reasons).toContain(reason);
    expect(f.warnings.some((w) => w.msg.includes("subject does not match"))).toBe(true);
    expect(f.warnings.length).toBeLessThan(20); // rate-limited, not one line per message
    expect(f.directorRunning).toBe(true);
    expect(f.tableAfter).toEqual(f.tableBefore);
    expect(f.changes).toEqual([]);
  });

  it("nats-server stopped for 30 s: the table stays as it is and the director reports isolated", () => {
    const o = stepResult("natsOutage");
    expect(o.tableBefore).toEqual(allAtWeight1);
    expect(o.changesDuringOutage).toEqual([]);
    expect(o.isolatedLine.role).toBe("isolated");
    expect(o.isolatedMs).toBeLessThan(5000 * r.timeScale);
    expect(o.directorRunning).toBe(true);
  });

  it("nats-server restarted: the director resumes without flapping", () => {
    const o = stepResult("natsOutage");
    expect(o.rejoinedMs).toBeLessThan(10_000 * r.timeScale);
    expect(o.heartbeat.role).toBe("leader");
    expect(o.changesAfter).toEqual([]);
    expect(o.flaps).toEqual([]);
  });

  it("director restarted: it reads the kernel table and does not flap; it still decides afterwards", () => {
    const d = stepResult("directorRestart");
    expect(d.exitCode).toBe(0);
    expect(d.tableAfterStop).toEqual(d.tableBefore);
    expect(d.readLine.msg).toContain("read the kernel table");
    expect(d.changes).toEqual([]);
    expect(d.flaps).toEqual([]);
    const again = stepResult("afterRestarts");
    expect(again.removalMs).toBeLessThan(removalBoundMs());
    expect(again.recoveryMs).toBeLessThan(recoveryBoundMs());
  });

  it("fits the e2e budget (the 30 s outage included; the rest scaled with the guest)", () => {
    expect(run.durationMs).toBeLessThan(30_000 + 170_000 * r.timeScale);
  });
});
