import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createLease } from "./lease.js";
import { createMemoryNetwork } from "./memory-network.js";

const TTL_MS = 3_000;

async function setup() {
  let now = 5_000_000;
  const network = createMemoryNetwork({ now: () => now, manualDelivery: true });
  const clock = () => now;
  const open = async (name: string) => {
    const kv = await network.connect(name).kv("lvsq_t_leases", { ttlMs: TTL_MS });
    return createLease(kv, "edge", name, TTL_MS, { now: clock });
  };
  return {
    network,
    open,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("lease", () => {
  it("one holder; renew extends; the other takes over after the TTL with a higher epoch", async () => {
    const { open, advance } = await setup();
    const a = await open("lvs-a");
    const b = await open("lvs-b");
    expect(await a.acquire()).toEqual({ acquired: true, epoch: 1 });
    expect(await b.acquire()).toEqual({ acquired: false, holder: "lvs-a", epoch: 1 });
    for (let i = 0; i < 5; i++) {
      advance(TTL_MS / 3);
      expect(await a.renew()).toBe(true);
      expect(a.epoch).toBe(1); // the term does not change on renewal
      expect(await b.read()).toMatchObject({ holder: "lvs-a", epoch: 1 });
    }
    advance(TTL_MS - 1);
    expect(a.isHeld()).toBe(true);
    expect((await b.acquire()).acquired).toBe(false);
    advance(1);
    expect(a.isHeld()).toBe(false); // local deadline passed: stop acting as leader
    expect(await b.acquire()).toEqual({ acquired: true, epoch: 7 });
    expect(await a.renew()).toBe(false);
    expect(a.epoch).toBeUndefined();
    expect(await a.acquire()).toEqual({ acquired: false, holder: "lvs-b", epoch: 7 });
  });

  it("a restarted holder re-acquires its own record with a new epoch; release hands over at once", async () => {
    const { open } = await setup();
    const first = await open("lvs-a");
    await first.acquire();
    const restarted = await open("lvs-a");
    expect(await restarted.acquire()).toEqual({ acquired: true, epoch: 2 });
    expect(await first.renew()).toBe(false); // the old incarnation is fenced off
    const b = await open("lvs-b");
    await restarted.release();
    expect(await b.acquire()).toEqual({ acquired: true, epoch: 4 });
  });

  it("renew throws (outcome unknown) while partitioned, and isHeld() runs out by the local clock", async () => {
    const { network, open, advance } = await setup();
    const a = await open("lvs-a");
    await a.acquire();
    network.setPartitioned("lvs-a", true);
    advance(1_000);
    await expect(a.renew()).rejects.toMatchObject({ code: "bus_unavailable" });
    expect(a.isHeld()).toBe(true);
    advance(TTL_MS);
    expect(a.isHeld()).toBe(false);
  });

  it("property: never two holders at once, and every new term has a higher epoch", async () => {
    const step = fc.record({
      who: fc.integer({ min: 0, max: 2 }),
      op: fc.constantFrom("acquire", "renew", "release", "partition", "heal"),
      advanceMs: fc.integer({ min: 0, max: TTL_MS }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps) => {
        const { network, open, advance } = await setup();
        const names = ["d0", "d1", "d2"];
        const leases = await Promise.all(names.map(open));
        let highestEpoch = 0;
        for (const { who, op, advanceMs } of steps) {
          advance(advanceMs);
          const lease = leases[who]!;
          try {
            if (op === "acquire") {
              const result = await lease.acquire();
              if (result.acquired) {
                expect(result.epoch).toBeGreaterThanOrEqual(highestEpoch);
                highestEpoch = result.epoch;
              }
            } else if (op === "renew") await lease.renew();
            else if (op === "release") await lease.release();
            else network.setPartitioned(names[who]!, op === "partition");
          } catch (error) {
            expect((error as { code?: string }).code).toBe("bus_unavailable");
          }
          expect(leases.filter((candidate) => candidate.isHeld()).length).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 300 },
    );
  });
});
