import type { BusStatus, KvChange } from "@lvsq/bus";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { VoteBatch as VoteBatchSchema } from "@lvsq/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsServerHandle, startNatsServer } from "../harness/nats.js";
import { batch, busOpener, waitFor } from "./bus-nats-kit.js";

// The bus when the server fails: killed and restarted, not there yet at start, hung (answers no pings), a
// bucket lost and made again (its sequence restarts).
describe("bus on a real nats-server that fails", () => {
  let server: NatsServerHandle;
  const { open, closeAll } = busOpener(() => server);

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await closeAll();
    await server?.dispose();
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

  it("a bucket lost and made again: writes re-make it, and a watch starts over at the new sequence", async () => {
    const bus = await open("reset");
    const kv = await bus.kv("lvsq_e2e_reset");
    const changes: KvChange[] = [];
    await kv.watch(undefined, (change) => changes.push(change), { updatesOnly: true });
    for (const key of ["a", "b", "c"]) await kv.put(key, { key });
    await waitFor("three watch events", () => changes.length === 3);
    const createdBefore = (await kv.status()).createdAt;
    const admin = await connect({ servers: server.url, name: "reset-admin" });
    try {
      await (await jetstreamManager(admin)).streams.delete("KV_lvsq_e2e_reset");
    } finally {
      await admin.close();
    }
    // The first write after the loss fails on the old handle; the next one makes the bucket again.
    await waitFor("bucket writable again", async () => {
      try {
        return (await kv.put("x", { key: "x" })) === 1;
      } catch {
        return false;
      }
    });
    expect((await kv.status()).createdAt).not.toBe(createdBefore);
    // Revision 1 is below every revision the watch had delivered: it must not be skipped as seen.
    await waitFor("the new stream's write delivered", () => changes.some((c) => c.key === "x"), 15_000);
    expect(changes.find((c) => c.key === "x")).toMatchObject({ revision: 1, operation: "PUT" });
  });
});
