import { type Bus, createMemoryBus, type Kv, type KvStatus } from "@lvsq/bus";
import { buckets } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { describe, expect, it } from "vitest";
import { PairStore } from "./pair-store.js";

// The pair store's reset detection: a desired bucket whose sequence went backwards is a new stream (docs/
// pairs.md, guarantee 12), but a record delivered while the status read is on its way is only newer news.

/** A bus whose desired bucket answers `status()` only when the test releases it. */
function withHeldStatus(bus: Bus, bucket: string) {
  const held: (() => void)[] = [];
  const wrapped: Bus = Object.create(bus);
  wrapped.kv = async (name, options) => {
    const kv = await bus.kv(name, options);
    if (name !== bucket) return kv;
    const slow: Kv = Object.create(kv);
    slow.status = async (): Promise<KvStatus> => {
      const answer = await kv.status();
      await new Promise<void>((resolve) => held.push(resolve));
      return answer;
    };
    return slow;
  };
  /** Waits (bounded) until a status read is held, then lets every held one answer. */
  const release = async () => {
    const deadline = Date.now() + 2000;
    while (held.length === 0) {
      if (Date.now() > deadline) throw new Error("no status read was made within 2 s");
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    for (const resolve of held.splice(0)) resolve();
  };
  return { bus: wrapped, release };
}

describe("pair store: bucket reset detection", () => {
  it("a record written while the status read is on its way is not a sequence gone backwards", async () => {
    const memory = createMemoryBus();
    const desired = buckets.desired("c1");
    const { bus, release } = withHeldStatus(memory, desired);
    const store = new PairStore({
      bus,
      cluster: "c1",
      pair: "edge",
      directorId: "a",
      ttlMs: 3000,
      now: Date.now,
      clock: () => performance.now(),
      logger: createLogger({ level: "silent" }),
      publisher: { build: () => undefined, deposed: () => {} },
      onLeaseRevision: () => {},
      onChange: () => {},
    });
    await store.open();
    const writer = await memory.kv(desired);
    await writer.put("edge.web", { n: 1 });
    const first = store.restarted();
    await release();
    expect(await first).toEqual([]);

    // The answer is taken (revision 1), then a write lands and is watched (revision 2) before it arrives.
    const second = store.restarted();
    await writer.put("edge.web", { n: 2 });
    await release();
    expect(await second).toEqual([]);
  });
});
