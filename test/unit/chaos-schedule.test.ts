import { describe, expect, it } from "vitest";
import {
  BACKEND_FAULTS,
  buildSchedule,
  type ChaosMode,
  type FaultKind,
  span,
} from "../e2e/chaos.schedule.js";

const input = (seed: number, mode: ChaosMode) => ({
  seed,
  mode,
  realServers: ["rs1", "rs2", "rs3", "rs4", "rs5"],
  sites: ["a", "b", "c"],
  natsNodes: 3,
  flakyDirector: "lvs-b",
});
const KINDS: FaultKind[] = [
  "backend-kill",
  "backend-hang",
  "backend-flap",
  "site-backend-cut",
  "site-nats-cut",
  "nats-node-kill",
  "nats-node-pause",
  "broker-outage",
  "leader-kill",
  "ipvs-fail",
  "bad-config",
  "flood",
  "bucket-loss",
  "director-twin",
];
const SEEDS = Array.from({ length: 40 }, (_, i) => i * 7919 + 1);

describe("the chaos schedule", () => {
  it("is a function of the seed: a printed seed replays the same faults", () => {
    expect(buildSchedule(input(42, "long"))).toEqual(buildSchedule(input(42, "long")));
    expect(buildSchedule(input(42, "short"))).not.toEqual(buildSchedule(input(43, "short")));
  });

  it.each(["short", "long"] as const)("has every fault kind, within its length (%s)", (mode) => {
    for (const seed of SEEDS) {
      const s = buildSchedule(input(seed, mode));
      expect(new Set(s.faults.map((f) => f.kind))).toEqual(new Set(KINDS));
      for (const f of s.faults) expect(f.atMs + f.durationMs).toBeLessThanOrEqual(s.lengthMs);
    }
  });

  it.each(["short", "long"] as const)("never fails more than two backends at once (%s)", (mode) => {
    for (const seed of SEEDS) {
      const backend = buildSchedule(input(seed, mode)).faults.filter((f) => BACKEND_FAULTS.includes(f.kind));
      for (const f of backend) {
        const at = backend.filter((g) => g.atMs <= f.atMs && f.atMs < g.atMs + g.durationMs);
        expect(at.length, `seed ${seed}`).toBeLessThanOrEqual(2);
      }
    }
  });

  it("stretches every offset and duration by the guest's time scale, and nothing else", () => {
    const plain = buildSchedule(input(11, "short"));
    const slow = buildSchedule({ ...input(11, "short"), scale: 2.5 });
    expect(slow.lengthMs).toBe(plain.lengthMs * 2.5);
    expect(slow.faults.map((f) => ({ ...f, atMs: f.atMs / 2.5, durationMs: f.durationMs / 2.5 }))).toEqual(
      plain.faults.map((f) => ({
        ...f,
        atMs: Math.round(f.atMs * 2.5) / 2.5,
        durationMs: Math.round(f.durationMs * 2.5) / 2.5,
      })),
    );
  });

  it("keeps the flood apart from broker faults and a SIGHUP apart from a director restart", () => {
    for (const seed of SEEDS) {
      const { faults } = buildSchedule(input(seed, "long"));
      const near = (a: FaultKind, b: FaultKind, gapMs: number) =>
        faults.some(
          (f) =>
            f.kind === a &&
            faults.some(
              (g) => g.kind === b && f.atMs < g.atMs + span(g) + gapMs && g.atMs < f.atMs + span(f) + gapMs,
            ),
        );
      expect(near("flood", "broker-outage", 5_000), `seed ${seed}`).toBe(false);
      // The flood takes real time (its span): no NATS node is killed or paused in its tail.
      expect(near("flood", "nats-node-kill", 5_000), `seed ${seed}`).toBe(false);
      expect(near("flood", "nats-node-pause", 5_000), `seed ${seed}`).toBe(false);
      expect(near("bad-config", "leader-kill", 15_000), `seed ${seed}`).toBe(false);
      expect(near("bucket-loss", "broker-outage", 5_000), `seed ${seed}`).toBe(false);
      expect(near("director-twin", "leader-kill", 10_000), `seed ${seed}`).toBe(false);
    }
  });
});
