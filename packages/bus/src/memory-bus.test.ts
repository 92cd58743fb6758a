import { VoteBatch } from "@lvsq/protocol";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { KvConflictError } from "./errors.js";
import { createMemoryBus, createMemoryNetwork } from "./memory-network.js";
import type { BusStatus, KvChange } from "./types.js";

const Ping = z.object({ n: z.number() });

function manualNetwork() {
  let now = 1_000_000;
  const network = createMemoryNetwork({ now: () => now, manualDelivery: true });
  return {
    network,
    advance(ms: number) {
      now += ms;
      network.flush();
    },
  };
}

describe("memory bus: pub/sub", () => {
  it("delivers valid messages and counts drops by reason, never throwing", async () => {
    const { network } = manualNetwork();
    const bus = network.connect("a");
    const got: number[] = [];
    bus.subscribe("x.>", Ping, (message) => {
      got.push(message.n);
    });
    bus.subscribe("x.y", VoteBatch, () => {});
    bus.publish("x.y", { n: 1 });
    bus.publish("x.z", { n: "two" });
    bus.publish("other", { n: 3 });
    expect(got).toEqual([]); // nothing moves until flush in manual mode
    network.flush();
    expect(got).toEqual([1]);
    expect(bus.stats()).toEqual({
      published: 3,
      publishDropped: 0,
      delivered: 1,
      dropped: { "invalid-json": 0, schema: 2, "handler-error": 0 },
    });
  });

  it("delivers on a microtask in automatic mode and counts handler errors", async () => {
    const bus = createMemoryBus();
    const got: number[] = [];
    bus.subscribe("s", Ping, (message) => {
      got.push(message.n);
      if (message.n === 2) throw new Error("boom");
    });
    bus.publish("s", { n: 1 });
    bus.publish("s", { n: 2 });
    await Promise.resolve();
    await Promise.resolve();
    expect(got).toEqual([1, 2]);
    expect(bus.stats().dropped["handler-error"]).toBe(1);
    await bus.close();
    expect(bus.publish("s", { n: 3 })).toBe(false);
  });

  it("gives each message to one member of a queue group", () => {
    const { network } = manualNetwork();
    const counts = [0, 0];
    for (const i of [0, 1]) {
      network.connect(`w${i}`).subscribe("work", Ping, () => void counts[i]!++, { queue: "workers" });
    }
    const sender = network.connect("sender");
    for (let n = 0; n < 10; n++) sender.publish("work", { n });
    network.flush();
    expect(counts).toEqual([5, 5]);
  });

  it("answers requests, and reports no responders and timeouts as LvsqErrors", async () => {
    const network = createMemoryNetwork();
    const server = network.connect("director");
    const client = network.connect("cli");
    server.serve("explain.a", (request) => ({ echo: request }));
    server.serve("explain.bad", () => {
      throw new Error("nope");
    });
    await expect(client.request("explain.a", { q: 1 }, 500)).resolves.toEqual({ echo: { q: 1 } });
    await expect(client.request("explain.bad", {}, 500)).resolves.toEqual({ error: "nope" });
    await expect(client.request("explain.none", {}, 500)).rejects.toMatchObject({ code: "not_found" });
    network.setFaultHook((delivery) => (delivery.subject === "explain.a" ? "drop" : "deliver"));
    await expect(client.request("explain.a", {}, 50)).rejects.toMatchObject({ code: "bus_timeout" });
  });
});

describe("memory network: faults", () => {
  it("drops and delays per the fault hook, in due order", () => {
    const { network, advance } = manualNetwork();
    const got: number[] = [];
    network.connect("b").subscribe("s", Ping, (message) => void got.push(message.n));
    const a = network.connect("a");
    network.setFaultHook((delivery) => (delivery.from === "a" ? 100 : "drop"));
    a.publish("s", { n: 1 });
    network.connect("c").publish("s", { n: 2 });
    network.flush();
    expect(got).toEqual([]);
    expect(network.pending()).toBe(1);
    advance(100);
    expect(got).toEqual([1]);
  });

  it("partitions a client: status events, lost publishes, failing KV, watch catch-up on heal", async () => {
    const { network, advance } = manualNetwork();
    const leader = network.connect("leader");
    const follower = network.connect("follower");
    const statuses: BusStatus[] = [];
    follower.onStatus((status) => statuses.push(status));
    const got: number[] = [];
    follower.subscribe("s", Ping, (message) => void got.push(message.n));
    const kvLeader = await leader.kv("desired");
    const kvFollower = await follower.kv("desired");
    const changes: KvChange[] = [];
    await kvFollower.watch("edge.>", (change) => changes.push(change));

    network.setPartitioned("follower", true);
    expect(follower.isConnected()).toBe(false);
    expect(follower.publish("s", { n: 0 })).toBe(false);
    leader.publish("s", { n: 1 });
    await kvLeader.put("edge.web", { epoch: 1 });
    await kvLeader.put("edge.web", { epoch: 2 });
    await expect(kvFollower.get("edge.web")).rejects.toMatchObject({ code: "bus_unavailable" });
    advance(10);
    expect(got).toEqual([]);
    expect(changes).toEqual([]);

    network.setPartitioned("follower", false);
    advance(10);
    expect(statuses.map((status) => status.type)).toEqual(["disconnected", "reconnected"]);
    expect(got).toEqual([]); // core messages sent during the partition are gone
    expect(changes.map((change) => change.value)).toEqual([{ epoch: 2 }]); // KV: the latest state
  });
});

describe("memory KV", () => {
  it("create/update are compare-and-set on bucket-wide revisions; delete markers are not values", async () => {
    const bus = createMemoryBus();
    const kv = await bus.kv("b");
    const other = await bus.kv("b");
    const r1 = await kv.create("k", { a: 1 });
    await expect(other.create("k", { a: 2 })).rejects.toBeInstanceOf(KvConflictError);
    const r2 = await kv.put("j", 1);
    const r3 = await kv.update("k", { a: 3 }, r1);
    expect([r1, r2, r3]).toEqual([1, 2, 3]);
    await expect(kv.update("k", { a: 4 }, r1)).rejects.toMatchObject({ code: "lease_conflict" });
    expect(await kv.get("k")).toMatchObject({ value: { a: 3 }, revision: 3 });
    await expect(kv.delete("k", { revision: r1 })).rejects.toBeInstanceOf(KvConflictError);
    await kv.delete("k", { revision: r3 });
    expect(await kv.get("k")).toBeUndefined();
    expect(await kv.keys()).toEqual(["j"]);
    expect(await kv.create("k", { a: 5 })).toBe(5);
  });

  it("expires entries after the bucket TTL by the injected clock, silently", async () => {
    const { network, advance } = manualNetwork();
    const bus = network.connect("a");
    const kv = await bus.kv("leases", { ttlMs: 1_000 });
    const changes: KvChange[] = [];
    await kv.watch(undefined, (change) => changes.push(change), { updatesOnly: true });
    const first = await kv.create("edge", { holder: "a" });
    advance(600);
    await kv.update("edge", { holder: "a" }, first);
    advance(600);
    expect(await kv.get("edge")).toBeDefined(); // renewed 600 ms ago
    advance(400);
    expect(await kv.get("edge")).toBeUndefined();
    expect(changes.map((change) => change.operation)).toEqual(["PUT", "PUT"]); // no event for the expiry
    await expect(kv.update("edge", {}, first + 1)).rejects.toBeInstanceOf(KvConflictError);
    expect(await kv.create("edge", { holder: "b" })).toBe(3);
  });

  it("watch gives current values, then changes in revision order under random delays, until stopped", async () => {
    const { network, advance } = manualNetwork();
    const kv = await network.connect("a").kv("d");
    await kv.put("edge.web", 1);
    await kv.put("other.web", 1);
    await kv.delete("edge.gone");
    const changes: string[] = [];
    const watcher = await kv.watch("edge.>", (change) =>
      changes.push(`${change.revision} ${change.operation} ${change.key}`),
    );
    let seed = 7;
    network.setFaultHook(() => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % 50;
    });
    await kv.put("edge.web", 2);
    await kv.put("edge.api", 3);
    await kv.put("other.api", 3);
    await kv.delete("edge.api");
    advance(100);
    expect(changes).toEqual(["1 PUT edge.web", "4 PUT edge.web", "5 PUT edge.api", "7 DEL edge.api"]);
    watcher.stop();
    await kv.put("edge.web", 4);
    advance(100);
    expect(changes).toHaveLength(4);
  });

  it("a bucket made again: what its old consumer had in flight is never delivered, the new stream is", async () => {
    const { network, advance } = manualNetwork();
    const kv = await network.connect("a").kv("d");
    const changes: string[] = [];
    await kv.watch(">", (change) => changes.push(`${change.revision} ${change.key}`), { updatesOnly: true });
    network.setFaultHook(() => 50);
    await kv.put("old.one", 1);
    await kv.put("old.two", 2);
    network.resetBucket("d");
    network.setFaultHook(undefined);
    await kv.put("new.one", 1);
    advance(100);
    // The old stream's revision 2 delivered late would make revision 1 of the new stream look "seen".
    expect(changes).toEqual(["1 new.one"]);
  });
});
