import {
  type Bus,
  type BusStatus,
  connectNatsBus,
  createLease,
  type KvChange,
  KvConflictError,
} from "@lvsq/bus";
import { buckets, kvKeys, subjects, type VoteBatch, VoteBatch as VoteBatchSchema } from "@lvsq/protocol";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsServerHandle, startNatsServer } from "../harness/nats.js";

const logger = pino({ level: "silent" });
const cluster = "e2e";

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function batch(seq: number, probe = "p1"): VoteBatch {
  return {
    v: 1,
    cluster,
    probe,
    site: "dc1",
    service: "web",
    seq,
    sentAt: Date.now(),
    intervalMs: 2000,
    votes: [{ rs: "127.0.0.2:80", state: "up", since: 0, latencyMs: 1.5, reason: "HTTP 200" }],
  };
}

describe("bus on a real nats-server", () => {
  let server: NatsServerHandle;
  const buses: Bus[] = [];
  const open = async (name: string, extra: { firstConnectWaitMs?: number; url?: string } = {}) => {
    const bus = await connectNatsBus({ servers: [extra.url ?? server.url], name, logger, ...extra });
    buses.push(bus);
    return bus;
  };

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    for (const bus of buses) await bus.close();
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
    await kv.put("edge.api", { epoch: 9 });
    expect((await kv.keys("edge.>")).sort()).toEqual(["edge.api", "edge.web"]);

    await kv.delete("edge.web");
    expect(await kv.get("edge.web")).toBeUndefined(); // a delete marker is not a value
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

  it("reconnects after the server is killed and restarted: subscriptions and KV watches resume", async () => {
    const producer = await open("restart-producer");
    const consumer = await open("restart-consumer");
    const seen: number[] = [];
    consumer.subscribe("t.restart", VoteBatchSchema, (message) => {
      seen.push(message.seq);
    });
    const kv = await consumer.kv("lvsq_e2e_restart");
    const changes: KvChange[] = [];
    await kv.watch(undefined, (change) => changes.push(change));
    await kv.put("k", { n: 1 });
    await waitFor("first watch event", () => changes.length === 1);
    await waitFor("first message", () => {
      producer.publish("t.restart", batch(1));
      return seen.length > 0;
    });

    const statuses: BusStatus["type"][] = [];
    consumer.onStatus((status) => statuses.push(status.type));
    await server.kill();
    await waitFor("both disconnected", () => !producer.isConnected() && !consumer.isConnected());
    expect(producer.publish("t.restart", batch(2))).toBe(false); // nothing buffered while down
    expect(producer.stats().publishDropped).toBeGreaterThanOrEqual(1);
    await expect(kv.get("k")).rejects.toMatchObject({ code: "bus_unavailable" });

    await server.restart();
    await waitFor("both reconnected", () => producer.isConnected() && consumer.isConnected(), 15_000);
    expect(statuses).toContain("disconnected");
    expect(statuses).toContain("reconnected");
    const before = seen.length;
    await waitFor("messages flow again", () => {
      producer.publish("t.restart", batch(3));
      return seen.length > before;
    });
    // JetStream may need a moment after a restart ("jetstream not enabled"): retry like agents do.
    await waitFor("kv writable again", async () => {
      try {
        await kv.put("k", { n: 2 });
        return true;
      } catch {
        return false;
      }
    });
    await waitFor(
      "watch resumed",
      () => changes.some((change) => (change.value as { n?: number })?.n === 2),
      15_000,
    );
    expect(await kv.get("k")).toMatchObject({ value: { n: 2 } });
  });

  it("starts while the server is down and connects when it comes up", async () => {
    const later = await startNatsServer();
    try {
      await later.stop();
      const started = Date.now();
      const bus = await open("early", { url: later.url, firstConnectWaitMs: 300 });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(bus.isConnected()).toBe(false);
      const statuses: BusStatus["type"][] = [];
      bus.onStatus((status) => statuses.push(status.type));
      const seen: number[] = [];
      bus.subscribe("t.early", VoteBatchSchema, (message) => {
        seen.push(message.seq);
      });
      expect(bus.publish("t.early", batch(1))).toBe(false);
      await expect(bus.kv("lvsq_e2e_early")).rejects.toMatchObject({ code: "bus_unavailable" });
      await expect(bus.request("t.nobody", {}, 100)).rejects.toMatchObject({ code: "bus_unavailable" });

      await later.restart();
      await waitFor("connected", () => bus.isConnected(), 10_000);
      expect(statuses).toContain("connected");
      await waitFor("the early subscription works", () => {
        bus.publish("t.early", batch(2));
        return seen.length > 0;
      });
      const kv = await bus.kv("lvsq_e2e_early");
      await kv.put("k", 1);
      expect((await kv.get("k"))?.value).toBe(1);
    } finally {
      await later.dispose();
    }
  });

  it("notices a hung server through pings and recovers when it answers again", async () => {
    const bus = await open("hung");
    const seen: number[] = [];
    bus.subscribe("t.hung", VoteBatchSchema, (message) => {
      seen.push(message.seq);
    });
    await waitFor("subscription live", () => {
      bus.publish("t.hung", batch(1));
      return seen.length > 0;
    });
    const pausedAt = Date.now();
    server.pause();
    try {
      // pingInterval 2 s, 2 pings outstanding: stale within ~6 s, never the 20 s default connect timeout.
      await waitFor("stale connection noticed", () => !bus.isConnected(), 10_000);
      expect(Date.now() - pausedAt).toBeLessThan(9_000);
    } finally {
      server.resume();
    }
    await waitFor("reconnected", () => bus.isConnected(), 10_000);
    const before = seen.length;
    await waitFor("messages flow again", () => {
      bus.publish("t.hung", batch(2));
      return seen.length > before;
    });
  });
});
