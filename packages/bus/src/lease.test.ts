import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createLease } from "./lease.js";
import { createMemoryNetwork } from "./memory-network.js";

const TTL_MS = 3_000;

async function setup() {
  let now = 5_000_000;
  const network = createMemoryNetwork({ now: () => now, manualDelivery: true });
  const clock = () => now;
  let wall = 7_000_000;
  const open = async (name: string, holder = name, ttlMs = TTL_MS) => {
    const kv = await network.connect(name).kv("lvsq_t_leases", { ttlMs });
    return createLease(kv, "edge", holder, ttlMs, { now: () => wall, clock });
  };
  return {
    network,
    open,
    advance: (ms: number) => {
      now += ms;
    },
    /** The wall clock alone steps (NTP, an operator): the monotonic clock does not. */
    stepWall: (ms: number) => {
      wall += ms;
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

  it("another incarnation of the same id waits for the key to expire; release hands over at once", async () => {
    const { open, advance } = await setup();
    const first = await open("lvs-a");
    expect(await first.acquire()).toEqual({ acquired: true, epoch: 1 });
    const restarted = await open("lvs-a2", "lvs-a");
    // The old process may still be alive (hung, or a replacement started early): it is not fenced off.
    expect(await restarted.acquire()).toEqual({ acquired: false, holder: "lvs-a", epoch: 1 });
    expect(await first.renew()).toBe(true);
    expect(first.isHeld()).toBe(true);
    advance(TTL_MS + 1);
    expect(await restarted.acquire()).toEqual({ acquired: true, epoch: 3 });
    expect(await first.renew()).toBe(false);
    const b = await open("lvs-b");
    await restarted.release();
    expect(await b.acquire()).toEqual({ acquired: true, epoch: 5 });
  });

  it("the same process takes its own record back (after an isolation) with a new epoch", async () => {
    const { open } = await setup();
    const a = await open("lvs-a");
    await a.acquire();
    expect(await a.acquire()).toEqual({ acquired: true, epoch: 2 });
  });

  it("reads its own key from the stream leader: a lagging replica never makes a holder follow itself", async () => {
    const { network, open, advance } = await setup();
    const a = await open("lvs-a");
    const b = await open("lvs-b");
    expect(await a.acquire()).toEqual({ acquired: true, epoch: 1 });
    advance(500);
    expect(await a.renew()).toBe(true);
    // Every replica read one write behind: the direct read would show a's first revision, and its
    // compare-and-set on it would conflict with a's own renewal.
    network.setKvFaultHook((op) => (op.op === "get" ? "stale" : "ok"));
    expect(await a.acquire()).toEqual({ acquired: true, epoch: 3 });
    expect(await b.acquire()).toEqual({ acquired: false, holder: "lvs-a", epoch: 3 });
  });

  it("a renewal that timed out but landed keeps the term (no new epoch, no lost lease)", async () => {
    const { network, open, advance } = await setup();
    const a = await open("lvs-a");
    expect(await a.acquire()).toEqual({ acquired: true, epoch: 1 });
    network.setKvFaultHook((op) => (op.op === "update" ? "reply-lost" : "ok"));
    advance(500);
    await expect(a.renew()).rejects.toMatchObject({ code: "bus_timeout" });
    network.setKvFaultHook(undefined);
    advance(500);
    expect(await a.renew()).toBe(true);
    expect(a.epoch).toBe(1);
    expect(await a.read()).toMatchObject({ holder: "lvs-a", epoch: 1, revision: 3 });
  });

  it("the epoch of a new term is at least the floor (a recreated bucket restarts its sequence)", async () => {
    const { network, open } = await setup();
    const a = await open("lvs-a");
    expect(await a.acquire(96)).toEqual({ acquired: true, epoch: 96 });
    const b = await open("lvs-b");
    expect(await b.read()).toMatchObject({ holder: "lvs-a", epoch: 96, revision: 1 });
    expect(await a.renew()).toBe(true);
    expect(await b.read()).toMatchObject({ epoch: 96, revision: 2 });
    network.resetBucket("lvsq_t_leases");
    expect(await a.renew()).toBe(false); // its revision is gone with the old stream
    expect(await b.acquire(97)).toEqual({ acquired: true, epoch: 97 });
  });

  it("the local deadline runs on the monotonic clock and never past the bucket's actual max age", async () => {
    const { open, advance, stepWall, network } = await setup();
    const maxAge = async () => (await (await network.connect("observer").kv("lvsq_t_leases")).status()).ttlMs;
    const slow = await open("lvs-a", "lvs-a", 10_000);
    await slow.acquire();
    // A partner with a 3 s lease time opens the bucket after it (a rolling lease time change): opening
    // never lowers the max age, which would expire at once the lease the holder counts on.
    const fast = await open("lvs-b", "lvs-b", 3_000);
    expect(await maxAge()).toBe(10_000);
    expect(await slow.renew()).toBe(true);
    expect(slow.effectiveTtlMs).toBe(10_000);
    advance(3_000);
    expect((await fast.acquire()).acquired).toBe(false);
    stepWall(-60_000);
    advance(6_999);
    expect(slow.isHeld()).toBe(true);
    advance(1);
    expect(slow.isHeld()).toBe(false); // the key is gone from the bucket: so is the belief in holding it
    expect((await fast.acquire()).acquired).toBe(true);
    // The shorter lease's holder lowers the max age to its own lease time once it has renewed.
    expect(fast.effectiveTtlMs).toBe(3_000);
    expect(await fast.renew()).toBe(true);
    expect(await maxAge()).toBe(3_000);
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
        const leases = await Promise.all(names.map((name) => open(name)));
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
