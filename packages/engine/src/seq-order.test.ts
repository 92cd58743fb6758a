import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { voteCounters } from "./queries.js";
import { fleet, RS1, RS2, rs1Down, Sim, up2 } from "./test-kit.js";

// Vote ordering that no single message can poison: a probe's batches are ordered by seq only while its
// last accepted batch is fresh (voteTtl, 6 s in the test fleet). Regression for the issue where one
// well-formed batch with a far-future seq silenced that probe until the director restarted.
const TTL = 6000;

const send = (sim: Sim, probe: string, seq: number, votes: Record<string, "up" | "down">, now: number) =>
  sim.run({ type: "votes", batch: sim.batch(probe, "web", votes, seq), now });

describe("vote ordering", () => {
  it("a far-future seq silences its probe for one voteTtl at most, then the probe's real votes count again", () => {
    const sim = new Sim(fleet());
    sim.at(1000).all(up2);
    expect(send(sim, "p1", 9e15, up2, 1500).dropped).toBeUndefined(); // well-formed, so it is taken
    // The real probe goes on with its own seq: dropped while the absurd one is fresh...
    for (let t = 2000; t <= 1500 + TTL; t += 1000) {
      expect(send(sim, "p1", 10 + t, rs1Down, t).dropped?.reason).toBe("replayed-seq");
    }
    // ...and taken as soon as it is older than voteTtl; ordering restarts from the real seq.
    const back = send(sim, "p1", 20_000, rs1Down, 1500 + TTL + 1);
    expect(back.dropped).toBeUndefined();
    expect(back.events).toContainEqual({
      type: "seq-reset",
      service: "web",
      probe: "p1",
      site: "dc1",
      fromSeq: 9e15,
      toSeq: 20_000,
      silentMs: TTL + 1,
    });
    expect(voteCounters(sim.state).seqResets).toBe(1);
    expect(send(sim, "p1", 20_001, rs1Down, 1500 + TTL + 2).dropped).toBeUndefined();
    expect(send(sim, "p1", 20_000, rs1Down, 1500 + TTL + 3).dropped?.reason).toBe("replayed-seq");
  });

  it("a probe restarted with its clock stepped back is heard again once its last batch is older than voteTtl", () => {
    const sim = new Sim(fleet());
    sim.at(1000);
    expect(send(sim, "p2", 5_000_000, up2, 1000).dropped).toBeUndefined();
    // Restart at 2 s with a clock an hour behind: a lower seq. Dropped until 1000 + TTL, then taken.
    expect(send(sim, "p2", 1_400_000, up2, 2000).dropped?.reason).toBe("replayed-seq");
    expect(send(sim, "p2", 1_400_001, up2, 1000 + TTL + 500).dropped).toBeUndefined();
    expect(sim.events.filter((e) => e.type === "seq-reset")).toHaveLength(1);
  });

  it("a replayed batch is dropped while its probe is alive", () => {
    const sim = new Sim(fleet());
    sim.at(1000).all(up2);
    for (let t = 2000; t <= 20_000; t += 2000) {
      expect(send(sim, "p3", 100 + t, up2, t).dropped).toBeUndefined();
      expect(send(sim, "p3", 100, { [RS1]: "down", [RS2]: "down" }, t + 1).dropped?.reason).toBe(
        "replayed-seq",
      );
    }
    expect(sim.table()).toEqual({ [RS1]: 1, [RS2]: 3 });
  });

  it("property: a batch is only ever dropped as a replay within voteTtl of the probe's last accepted batch", () => {
    const arrival = fc.record({
      gapMs: fc.integer({ min: 0, max: 3 * TTL }),
      seq: fc.oneof(
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom(0, Number.MAX_SAFE_INTEGER, 9e15, 1e12),
        fc.integer({ min: -1000, max: 0 }).map((n) => -n),
      ),
    });
    fc.assert(
      fc.property(fc.array(arrival, { minLength: 1, maxLength: 60 }), (arrivals) => {
        const sim = new Sim(fleet());
        let now = 1000;
        let lastAccepted: { seq: number; at: number } | undefined;
        for (const { gapMs, seq } of arrivals) {
          now += gapMs;
          const result = send(sim, "p1", seq, up2, now);
          if (result.dropped === undefined) {
            lastAccepted = { seq, at: now };
            continue;
          }
          expect(result.dropped.reason).toBe("replayed-seq");
          // Dropped only behind a fresh accepted batch with a seq at least as high.
          expect(lastAccepted).toBeDefined();
          expect(seq).toBeLessThanOrEqual(lastAccepted!.seq);
          expect(now - lastAccepted!.at).toBeLessThanOrEqual(TTL);
        }
      }),
      { numRuns: 200 },
    );
  });
});
