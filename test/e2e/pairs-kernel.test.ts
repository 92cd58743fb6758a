import { beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../harness/agents.js";
import { findNatsServer } from "../harness/nats.js";
import { resultJson, runInGuest, type GuestRunResult } from "../harness/guest.js";

// A director pair on two real kernel IPVS tables (two network namespaces in one guest), three probe
// sites and a real nats-server: see pairs-kernel.guest.ts for the scenario, docs/pairs.md for the protocol.
// Every timer of the scenario (check interval and timeout, vote TTL, lease time: 500 ms, 300 ms, 3 s, 2 s)
// and every wait is multiplied by the guest's time scale: 1 under UML or KVM; measured under QEMU's emulation
// (TCG), 2-5 (test/harness/in-guest.ts, guestTimeScale), where a lease round alone can outlast a 2 s lease.
// The scenario reports what it used, and the bounds follow. A takeover waits for the dead leader's key to
// expire (the lease), then for the survivor's next lease round (every lease / 6, docs/pairs.md), then for
// its reaction inside the guest (1 s, scaled; measured under TCG on a quick host: follower lag 90-500 ms).
const takeoverBoundMs = (r: Results) => r.leaseTtlMs + r.leaseTtlMs / 6 + 1000 * r.timeScale;
type Table = Record<string, number>;
type Results = {
  leaseTtlMs: number;
  timeScale: number;
  nodeStartMs: number;
  started?: { a: Table; b: Table; roles: string[] };
  lag?: { change: string; leaderMs: number; followerMs: number }[];
  takeover?: { killed: string; survivor: string; ms: number; epoch: number };
  afterKill?: { survivor: Table; killed: Table };
  returned?: {
    role: string;
    survivorChanged: boolean;
    tables: { survivor: Table; returned: Table };
    leader: string;
  };
  partition?: {
    cutOff: string;
    takeoverMs: number;
    keptBefore: Table;
    keptDuring: Table;
    isolatedLogged: boolean;
    reconvergedMs: number;
    tables: { cutOff: Table; other: Table };
    roles: Record<string, string>;
  };
  heartbeats?: Record<string, { role: string; epoch: number; appliedEpoch: number; director: string }>;
  done?: boolean;
  error?: string;
  log: string[];
};

let run: GuestRunResult;
let r: Results;

beforeAll(async () => {
  findNatsServer();
  run = await runInGuest({
    nodeModule: new URL("./pairs-kernel.guest.ts", import.meta.url).pathname,
    // The netlink driver, asked for by name: a director that cannot open it exits instead of falling back.
    env: { LVSQ_REPO: repoRoot, LVSQ_IPVS_DRIVER: "netlink" },
    timeoutMs: 300_000,
  });
  r = resultJson<Results>(run, "results.json");
  if (r.error || !r.done)
    throw new Error(
      `guest scenario failed: ${r.error ?? "incomplete"}\n${r.log.slice(-60).join("\n")}\n--- guest console (tail) ---\n${run.stdout.slice(-4000)}`,
    );
  console.log(
    `pairs on ${run.guest.label}: time scale ${r.timeScale} (node starts in ${r.nodeStartMs} ms), lease ${r.leaseTtlMs} ms; follower lag ${r.lag!.map((l) => l.followerMs - l.leaderMs).join("/")} ms; takeover ${r.takeover!.ms} ms after kill; partition takeover ${r.partition!.takeoverMs} ms, reconverged ${r.partition!.reconvergedMs} ms after heal`,
  );
}, 320_000);

describe("director pair on real kernel tables (in the guest, real nats-server)", () => {
  it("starts with one leader and one follower and identical tables", () => {
    expect(r.started!.roles.sort()).toEqual(["follower", "leader"]);
    expect(r.started!.a).toEqual(r.started!.b);
  });

  it("after each backend failure or recovery both tables are identical within 1 s (× the guest's time scale)", () => {
    expect(r.lag).toHaveLength(4);
    for (const step of r.lag!)
      expect(Math.abs(step.followerMs - step.leaderMs), step.change).toBeLessThan(1000 * r.timeScale);
  });

  it("kill the leader: the follower leads within lease time + one lease round + 1 s and keeps applying", () => {
    expect(r.takeover!.ms).toBeLessThan(takeoverBoundMs(r));
    expect(r.afterKill!.survivor).toEqual({ "127.0.0.3:8080": 2, "127.0.0.4:8080": 3 });
  });

  it("the old leader returns as follower; its return changes nothing in the leader's table", () => {
    expect(r.returned!.role).toBe("follower");
    expect(r.returned!.leader).toBe("leader");
    expect(r.returned!.survivorChanged).toBe(false);
    expect(r.returned!.tables.returned).toEqual(r.returned!.tables.survivor);
  });

  it("a leader cut off from NATS keeps its table; the follower takes over; tables reconverge after the heal", () => {
    const p = r.partition!;
    expect(p.keptDuring).toEqual(p.keptBefore);
    expect(p.isolatedLogged).toBe(true);
    expect(p.takeoverMs).toBeLessThan(r.leaseTtlMs + 3000 * r.timeScale);
    expect(p.tables.cutOff).toEqual(p.tables.other);
    expect(p.roles[p.cutOff]).toBe("follower");
  });

  it("heartbeats carry the epoch and the applied epoch", () => {
    const beats = Object.values(r.heartbeats!);
    const leader = beats.find((hb) => hb.role === "leader")!;
    expect(leader.epoch).toBeGreaterThan(0);
    for (const hb of beats) {
      expect(hb.epoch).toBe(leader.epoch);
      expect(hb.appliedEpoch).toBe(leader.epoch);
    }
  });
});
