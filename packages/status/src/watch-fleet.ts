import type { Bus, BusSubscription, KvChange, KvWatcher } from "@lvsq/bus";
import {
  AdminRecord,
  buckets,
  DesiredRecord,
  DirectorHeartbeat,
  EventEnvelope,
  ProbeHeartbeat,
  subjects,
  VoteBatch,
} from "@lvsq/protocol";
import type { Logger } from "@lvsq/runtime";
import { z } from "zod";
import type { FleetModel } from "./model.js";

export type WatchFleetOptions = {
  cluster: string;
  now?: () => number;
  /** Also watch the admin and desired KV buckets (default true; needs JetStream). */
  kv?: boolean;
};

export type FleetWatch = {
  /** Resolves once the KV watches have delivered their current values (or failed, which is logged). */
  ready: Promise<void>;
  stop(): void;
};

const Heartbeat = z.discriminatedUnion("type", [ProbeHeartbeat, DirectorHeartbeat]);

/**
 * Feeds a FleetModel from the bus: heartbeats (`status.>`), events (`events.>`), vote batches (`votes.>`),
 * and the admin and desired KV buckets. Bad messages are dropped and counted by the bus. A KV bucket that
 * cannot be watched (no JetStream, a bucket made with other options) is logged and skipped: the rest of the
 * view still works.
 */
export function watchFleet(
  bus: Bus,
  model: FleetModel,
  logger: Logger,
  options: WatchFleetOptions,
): FleetWatch {
  const now = options.now ?? Date.now;
  const cluster = options.cluster;
  const subscriptions: BusSubscription[] = [
    bus.subscribe(subjects.allStatus(cluster), Heartbeat, (heartbeat) => {
      if (heartbeat.type === "probe") model.ingestProbeHeartbeat(heartbeat, now());
      else model.ingestDirectorHeartbeat(heartbeat, now());
    }),
    bus.subscribe(subjects.allEvents(cluster), EventEnvelope, (envelope) =>
      model.ingestEvent(envelope, now()),
    ),
    bus.subscribe(subjects.allVotes(cluster), VoteBatch, (batch) => model.ingestVotes(batch, now())),
  ];
  const watchers: KvWatcher[] = [];
  let stopped = false;

  // A watch that could not start (NATS not up yet) is retried when the bus connects; once started, the bus
  // resumes it across reconnects by itself.
  const failed = new Map<string, (change: KvChange) => void>();
  const watchBucket = async (bucket: string, onChange: (change: KvChange) => void) => {
    failed.delete(bucket);
    try {
      const kv = await bus.kv(bucket);
      const watcher = await kv.watch(undefined, onChange);
      if (stopped) watcher.stop();
      else watchers.push(watcher);
    } catch (error) {
      failed.set(bucket, onChange);
      const fields = { bucket, err: error instanceof Error ? error.message : String(error) };
      // Not connected yet: the watch starts when the bus connects, and the bus says it cannot connect.
      if (!bus.isConnected()) logger.debug(fields, "status: kv bucket not watched yet; retried on connect");
      else logger.warn(fields, "status: cannot watch kv bucket; its records will not show");
    }
  };

  const onAdmin = (change: KvChange) => {
    if (change.operation !== "PUT") return model.ingestAdmin(change.key, undefined, now());
    const parsed = AdminRecord.safeParse(change.value);
    if (parsed.success) model.ingestAdmin(change.key, parsed.data, now());
    else
      logger.warn(
        { key: change.key, bucket: buckets.admin(cluster) },
        "status: invalid admin record ignored",
      );
  };
  const onDesired = (change: KvChange) => {
    if (change.operation !== "PUT") return;
    const parsed = DesiredRecord.safeParse(change.value);
    if (parsed.success) model.ingestDesired(parsed.data, now());
  };

  const ready =
    options.kv === false
      ? Promise.resolve()
      : Promise.all([
          watchBucket(buckets.admin(cluster), onAdmin),
          watchBucket(buckets.desired(cluster), onDesired),
        ]).then(() => undefined);

  const offStatus = bus.onStatus((status) => {
    if (stopped || (status.type !== "connected" && status.type !== "reconnected")) return;
    for (const [bucket, onChange] of [...failed]) void watchBucket(bucket, onChange);
  });

  return {
    ready,
    stop() {
      stopped = true;
      offStatus();
      for (const s of subscriptions) s.unsubscribe();
      for (const w of watchers.splice(0)) w.stop();
    },
  };
}
