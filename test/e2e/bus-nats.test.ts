import { type BusStatus, createLease, type KvChange, KvConflictError } from "@lvsq/bus";
import { buckets, kvKeys, subjects, type VoteBatch, VoteBatch as VoteBatchSchema } from "@lvsq/protocol";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsServerHandle, startNatsServer } from "../harness/nats.js";
import { batch, busOpener, cluster, waitFor } from "./bus-nats-kit.js";

describe("bus on a real nats-server", () => {
  let server: NatsServerHandle;
  const { open, closeAll } = busOpener(() => server);

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await closeAll();
    await server?.dispose();
  });

  it("delivers valid messages and drops (counts, never throws) bad ones", async () => {
    const bus = await open("pubsub");
    const got: VoteBatch[] = [];
    bus.subscribe(subjects.allVotes(cluster), VoteBatchSchema, (message) => {
      got.push(message);
    });
    const raw = await connect({ servers: server.url });
    try {
      await raw.flush();
      expect(bus.publish(subjects.votes(cluster, "p1", "web"), batch(1))).toBe(true);
      raw.publish(subjects.votes(cluster, "p1", "web"), "{not json");
      raw.publish(subjects.votes(cluster, "p1", "web"), JSON.stringify({ ...batch(2), v: 2 }));
      bus.publish(subjects.votes(cluster, "p1", "web"), batch(3));
      await waitFor("2 deliveries and 2 drops", () => {
        const stats = bus.stats();
        return got.length === 2 && stats.dropped.schema === 1 && stats.dropped["invalid-json"] === 1;
      });
      expect(got.map((message) => message.seq)).toEqual([1, 3]);
      expect(bus.stats().published).toBe(2);
    } finally {
      await raw.close();
    }
  });

  it("counts a handler that throws as handler-error and keeps delivering", async () => {
    const bus = await open("throwing");
    let calls = 0;
    bus.subscribe("t.throw", VoteBatchSchema, () => {
      calls++;
      throw new Error("boom");
    });
    await waitFor("subscription", async () => {
      bus.publish("t.throw", batch(1));
      return calls > 0;
    });
    await waitFor("handler-error counted", () => bus.stats().dropped["handler-error"] >= 1);
  });

  it("answers requests, reports no responders, and returns a handler error as { error }", async () => {
    const director = await open("director");
    const cli = await open("cli");
    director.serve(subjects.explain(cluster, "lvs-a"), (request) => {
      if ((request as { service?: string }).service === "bad") throw new Error("unknown service");
      return { director: "lvs-a", asked: request };
    });
    await waitFor("explain served", async () => {
      try {
        await cli.request(subjects.explain(cluster, "lvs-a"), { service: "web" }, 1000);
        return true;
      } catch {
        return false;
      }
    });
    await expect(cli.request(subjects.explain(cluster, "lvs-a"), { service: "web" }, 1000)).resolves.toEqual({
      director: "lvs-a",
      asked: { service: "web" },
    });
    await expect(cli.request(subjects.explain(cluster, "lvs-a"), { service: "bad" }, 1000)).resolves.toEqual({
      error: "unknown service",
    });
    await expect(cli.request(subjects.explain(cluster, "nobody"), {}, 1000)).rejects.toMatchObject({
      code: "not_found",
    });
  });

  it("KV: put/get, create fails if exists, update is compare-and-set, delete, keys, watch", async () => {
    const bus = await open("kv");
    const kv = await bus.kv(buckets.desired(cluster));
    const changes: KvChange[] = [];
    const watcher = await kv.watch("edge.>", (change) => changes.push(change));

    const first = await kv.create(kvKeys.desired("edge", "web"), { epoch: 1 });
    await expect(kv.create(kvKeys.desired("edge", "web"), { epoch: 2 })).rejects.toBeInstanceOf(
      KvConflictError,
    );
    const second = await kv.update(kvKeys.desired("edge", "web"), { epoch: 2 }, first);
    expect(second).toBeGreaterThan(first);
    await expect(kv.update(kvKeys.desired("edge", "web"), { epoch: 3 }, first)).rejects.toMatchObject({
      code: "lease_conflict",
    });
    expect(await kv.get("edge.web")).toMatchObject({
      key: "edge.web",
      value: { epoch: 2 },
      revision: second,
    });
    // A read answered by the stream leader (leases): the same entry, the same revision.
    expect(await kv.get("edge.web", { fromLeader: true })).toEqual(await kv.get("edge.web"));
    expect(await kv.get("edge.none", { fromLeader: true })).toBeUndefined();
    await kv.put("edge.api", { epoch: 9 });
    expect((await kv.keys("edge.>")).sort()).toEqual(["edge.api", "edge.web"]);

    await kv.delete("edge.web");
    expect(await kv.get("edge.web")).toBeUndefined(); // a delete marker is not a value
    expect(await kv.get("edge.web", { fromLeader: true })).toBeUndefined();
    expect(await kv.keys()).toEqual(["edge.api"]);
    await kv.create("edge.web", { epoch: 4 }); // create over a delete marker works

    await waitFor("5 watch events", () => changes.length === 5);
    expect(changes.map((change) => `${change.operation} ${change.key}`)).toEqual([
      "PUT edge.web",
      "PUT edge.web",
      "PUT edge.api",
      "DEL edge.web",
      "PUT edge.web",
    ]);
    watcher.stop();
  });

  it("KV status: the newest message's server time, kept after the message expired", async () => {
    const bus = await open("status-age");
    const kv = await bus.kv(`${buckets.leases(cluster)}_age`, { ttlMs: 1000 });
    const empty = await kv.status();
    expect(empty.lastWriteAt).toBeUndefined();
    await kv.put("edge", { v: 1 });
    const written = await kv.status();
    expect(written.lastWriteAt).toBeGreaterThanOrEqual(written.createdAt);
    await waitFor("the key expired", async () => (await kv.get("edge")) === undefined, 10_000);
    expect((await kv.status()).lastWriteAt).toBe(written.lastWriteAt);
  });

  it("lease: a rolling change to a shorter lease time never expires the holder's key under it", async () => {
    const busA = await open("lvs-a-rolling");
    const busB = await open("lvs-b-rolling");
    const busO = await open("observer-rolling");
    const bucket = `${buckets.leases(cluster)}_rolling`;
    const slow = createLease(await busA.kv(bucket, { ttlMs: 4000 }), kvKeys.lease("edge"), "lvs-a", 4000);
    expect(await slow.acquire()).toMatchObject({ acquired: true });
    await new Promise((resolve) => setTimeout(resolve, 1200));
    // The partner restarts with 1 s: opening the bucket must not lower its max age to 1 s, which would
    // make the server drop the holder's 1.2 s old key at once.
    const fast = createLease(await busB.kv(bucket, { ttlMs: 1000 }), kvKeys.lease("edge"), "lvs-b", 1000);
    const observer = await busO.kv(bucket);
    expect((await observer.status()).ttlMs).toBe(4000);
    expect(await fast.acquire()).toMatchObject({ acquired: false, holder: "lvs-a" });
    expect(await slow.renew()).toBe(true);
    // The holder stops; the partner takes over once the key ages out, then lowers the max age itself.
    await waitFor("the partner takes over", async () => (await fast.acquire()).acquired, 10_000);
    expect(await fast.renew()).toBe(true);
    expect((await observer.status()).ttlMs).toBe(1000);
  });

  it("lease: one holder at a time, renew by CAS, lost after the bucket TTL, higher epoch on takeover", async () => {
    const ttlMs = 1500;
    const busA = await open("lvs-a");
    const busB = await open("lvs-b");
    const bucket = `${buckets.leases(cluster)}_t`;
    const a = createLease(await busA.kv(bucket, { ttlMs }), kvKeys.lease("edge"), "lvs-a", ttlMs);
    const b = createLease(await busB.kv(bucket, { ttlMs }), kvKeys.lease("edge"), "lvs-b", ttlMs);

    const taken = await a.acquire();
    expect(taken).toMatchObject({ acquired: true });
    const epochA = a.epoch!;
    expect(await b.acquire()).toEqual({ acquired: false, holder: "lvs-a", epoch: epochA });
    // Renewing keeps it well past the TTL.
    const keepUntil = Date.now() + 2 * ttlMs;
    let lastRenewAt = 0;
    while (Date.now() < keepUntil) {
      lastRenewAt = Date.now();
      expect(await a.renew()).toBe(true);
      expect((await b.acquire()).acquired).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, ttlMs / 3));
    }
    expect(await b.read()).toMatchObject({ holder: "lvs-a", epoch: epochA });

    // A stops renewing: B (polling, as followers do) gets it once max_age removes the key.
    await waitFor("B takes over", async () => (await b.acquire()).acquired, ttlMs + 5_000);
    const takeoverMs = Date.now() - lastRenewAt;
    expect(takeoverMs).toBeGreaterThanOrEqual(ttlMs - 100);
    expect(takeoverMs).toBeLessThan(ttlMs + 2_000);
    expect(b.epoch!).toBeGreaterThan(epochA);
    expect(await a.renew()).toBe(false);
    expect(a.isHeld()).toBe(false);
    expect(b.isHeld()).toBe(true);
    expect((await a.acquire()).acquired).toBe(false);

    await b.release();
    expect(await a.acquire()).toMatchObject({ acquired: true });
    expect(a.epoch!).toBeGreaterThan(epochA);
  });

  it("reports permission violations as a status", async () => {
    await using guarded = await startNatsServer({
      jetstream: false,
      extraConfig: `authorization { users = [ { user: probe1, password: s3cret, permissions: { publish: ["lvsq.${cluster}.votes.p1.>"], subscribe: ["_INBOX.>"] } } ] }`,
    });
    const bus = await open("probe1", { url: `nats://probe1:s3cret@127.0.0.1:${guarded.port}` });
    expect(bus.isConnected()).toBe(true);
    const statuses: BusStatus[] = [];
    bus.onStatus((status) => statuses.push(status));
    bus.publish(subjects.votes(cluster, "p2", "web"), batch(1, "p2"));
    await waitFor("permission-error", () => statuses.some((status) => status.type === "permission-error"));
    expect(statuses.find((status) => status.type === "permission-error")).toMatchObject({
      operation: "publish",
      subject: subjects.votes(cluster, "p2", "web"),
    });
    await bus.close();
  });
});
