import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FALLBACK, fleet, Sim, webService } from "./test-kit.js";
import type { EngineEvent } from "./types.js";

// keepalived's doc/samples quorum setup in miniature: 10 real servers of weight 1, quorum 7, hysteresis 2.
// Lost below 5 (7-2), gained at 9 (7+2); between, the state is kept.
const servers = Array.from({ length: 10 }, (_, i) => `10.0.0.${i + 1}:80`);
const config = (extra: Record<string, unknown> = {}) =>
  fleet({
    services: {
      web: webService({
        realServers: servers.map((address) => ({ address, weight: 1 })),
        weightQuorum: { quorum: 7, hysteresis: 2 },
        ...extra,
      }),
    },
  });
const emptyKernel = { services: [] };
/** The first `n` servers up, the rest down, by every probe. */
const upTo = (n: number) => Object.fromEntries(servers.map((rs, i) => [rs, i < n ? "up" : "down"] as const));
const quorumEvents = (sim: Sim) =>
  sim.events.filter((e): e is Extract<EngineEvent, { type: "weight-quorum-lost" | "weight-quorum-gained" }> =>
    e.type.startsWith("weight-quorum"),
  );

describe("weightQuorum (keepalived's quorum/hysteresis)", () => {
  it("starts with the quorum down on an empty kernel: the fallback goes in, like keepalived's alpha mode", () => {
    const sim = new Sim(config());
    sim.observe(emptyKernel);
    expect(sim.table()).toEqual({ [FALLBACK]: 1 });
    expect(quorumEvents(sim)).toEqual([
      expect.objectContaining({ type: "weight-quorum-lost", initial: true, healthyWeight: 0, threshold: 9 }),
    ]);
  });

  it("keeps the fallback until 9 are up, then replaces it with all of them", () => {
    const sim = new Sim(config());
    sim.observe(emptyKernel);
    sim.all(upTo(8));
    expect(sim.table()).toEqual({ [FALLBACK]: 1 });
    sim.take();
    sim.all(upTo(9));
    expect(Object.keys(sim.table()!).sort()).toEqual(servers.slice(0, 9).sort());
    expect(quorumEvents(sim)).toEqual([
      expect.objectContaining({
        type: "weight-quorum-gained",
        healthyWeight: 9,
        threshold: 9,
        initial: false,
      }),
    ]);
    expect(sim.types()).toContain("fallback-off");
  });

  it("holds the quorum down to 5 up, and replaces the remaining servers with the fallback below it", () => {
    const sim = new Sim(config());
    sim.observe(emptyKernel);
    sim.all(upTo(10));
    sim.take();
    sim.all(upTo(5));
    expect(Object.keys(sim.table()!)).toHaveLength(5);
    expect(sim.take()).not.toContain("weight-quorum-lost");
    sim.all(upTo(4));
    // Lost quorum 7-2=5 > 4: the four still-healthy servers leave, the fallback alone serves.
    expect(sim.table()).toEqual({ [FALLBACK]: 1 });
    expect(quorumEvents(sim)).toEqual([
      expect.objectContaining({ type: "weight-quorum-lost", healthyWeight: 4, threshold: 5, upServers: 4 }),
    ]);
  });

  it("starts with the quorum up when the kernel already carries enough weight (no event)", () => {
    const sim = new Sim(config());
    const kernel = {
      services: [
        {
          key: "tcp 192.0.2.10:80",
          protocol: "tcp" as const,
          address: "192.0.2.10:80",
          family: "inet" as const,
          scheduler: "wrr",
          realServers: servers.map((address) => ({ address, forwarding: "dr" as const, weight: 1 })),
        },
      ],
    };
    sim.observe(kernel);
    expect(Object.keys(sim.table()!)).toHaveLength(10);
    expect(quorumEvents(sim)).toEqual([]);
  });

  it("without fallback servers only reports the loss; the table follows the votes", () => {
    const sim = new Sim(config({ fallback: [] }));
    sim.observe(emptyKernel);
    sim.all(upTo(10));
    sim.all(upTo(3));
    expect(Object.keys(sim.table()!)).toHaveLength(3);
    expect(quorumEvents(sim).map((e) => e.type)).toEqual([
      "weight-quorum-lost",
      "weight-quorum-gained",
      "weight-quorum-lost",
    ]);
  });

  it("keeps quiesced (weight 0) servers in while the fallback replaces the healthy ones", () => {
    const sim = new Sim(config({ onDown: "quiesce" }));
    sim.observe(emptyKernel);
    sim.all(upTo(10));
    sim.all(upTo(4));
    const table = sim.table()!;
    expect(table[FALLBACK]).toBe(1);
    expect(Object.values(table).filter((w) => w > 0)).toEqual([1]);
    expect(Object.keys(table)).toHaveLength(7);
  });

  it("is refused beside minUpWeight", () => {
    expect(() => config({ minUpWeight: { weight: 3 } })).toThrow(/weightQuorum and minUpWeight/);
  });

  it("property: the state changes only across the thresholds, and while it is down the fallback alone carries weight", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 1, maxLength: 25 }), (rounds) => {
        const sim = new Sim(config());
        sim.observe(emptyKernel);
        let up = false;
        let now = 1000;
        for (const n of rounds) {
          now += 1000;
          sim.at(now).all(upTo(n));
          const next = sim.state.services.get("web")!.weightQuorumUp!;
          if (!up && next) expect(n).toBeGreaterThanOrEqual(9);
          if (up && !next) expect(n).toBeLessThan(5);
          if (n >= 9) expect(next).toBe(true);
          if (n < 5) expect(next).toBe(false);
          const table = sim.table()!;
          if (!next) expect(table).toEqual({ [FALLBACK]: 1 });
          else expect(FALLBACK in table).toBe(false);
          up = next;
        }
      }),
      { numRuns: 100 },
    );
  });
});
