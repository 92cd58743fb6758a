import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { decodeJson, errorText } from "./inbound.js";
import type { KvChange, KvStatus, KvWatcher } from "./types.js";

/** What a watch needs from its bus: the live connection and word of each reconnect. */
export interface WatchHost {
  connection(): NatsConnection | undefined;
  onReconnect(listener: () => void): () => void;
  readonly logger: Logger;
}

/** The bucket a watch reads: its name, and its guarded calls (which reopen the bucket when needed). */
export interface WatchOwner {
  readonly bucket: string;
  guard<T>(what: string, run: (kv: KV) => Promise<T>): Promise<T>;
}

const WATCH_RETRY_MS = 1_000;

/**
 * Wraps a nats.js watch. On every reconnect it starts a fresh consumer from the last revision seen, so a
 * restarted server (whose ephemeral consumers are gone) keeps feeding the handler; duplicates are skipped.
 */
export class NatsWatcher implements KvWatcher {
  private lastRevision = 0;
  /** The stream the revisions belong to: a recreated bucket restarts its sequence. */
  private streamCreatedAt: number | undefined;
  private stopped = false;
  private iterator: { stop(): void } | undefined;
  private readonly offReconnect: () => void;

  constructor(
    private readonly owner: WatchOwner,
    private readonly filter: string,
    private readonly handler: (change: KvChange) => void,
    private readonly host: WatchHost,
    private readonly onStop: () => void,
  ) {
    this.offReconnect = host.onReconnect(() => void this.resume());
  }

  /** Its bucket was made again: start over on the new stream (`start` notices the restarted sequence). */
  restart(): void {
    if (!this.stopped) void this.resume();
  }

  async start(kv: KV, updatesOnly: boolean): Promise<void> {
    // Compared with what was seen before asking: a change delivered while the status is on its way is
    // newer than the answer, and would look like a sequence that went backwards.
    const seenBefore = this.lastRevision;
    const status = kvStatusOf(await kv.status());
    const restarted =
      this.streamCreatedAt !== undefined &&
      (status.createdAt !== this.streamCreatedAt || status.lastRevision < seenBefore);
    if (restarted) {
      // Revisions from the old stream mean nothing in the new one: skipping "seen" ones would skip all.
      this.host.logger.warn(
        { bucket: this.owner.bucket, lastRevision: this.lastRevision, now: status.lastRevision },
        "bus: kv bucket was recreated (its sequence restarted); watching it from the start",
      );
      this.lastRevision = 0;
    }
    this.streamCreatedAt = status.createdAt;
    const resumeFrom = this.lastRevision > 0 ? this.lastRevision + 1 : 0;
    const replayAll = restarted;
    const iterator = await kv.watch({
      key: this.filter,
      ...(resumeFrom > 0
        ? { resumeFromRevision: resumeFrom }
        : { include: updatesOnly && !replayAll ? "updates" : "" }),
    });
    if (this.stopped) {
      iterator.stop();
      return;
    }
    this.iterator?.stop();
    this.iterator = iterator;
    void (async () => {
      try {
        await this.consume(iterator, replayAll ? -1 : resumeFrom);
      } catch (error) {
        this.host.logger.warn({ bucket: this.owner.bucket, err: errorText(error) }, "bus: kv watch failed");
      }
      // The watch ended by itself (its consumer died with a JetStream node, missed heartbeats, a stream
      // reset): without a reconnect nothing would restart it, and its owner would wait forever.
      if (this.stopped || this.iterator !== iterator) return;
      this.host.logger.warn({ bucket: this.owner.bucket }, "bus: kv watch ended; re-creating it");
      await new Promise((resolve) => setTimeout(resolve, WATCH_RETRY_MS));
      if (!this.stopped && this.iterator === iterator) await this.resume();
    })();
  }

  /** `resumeFrom` 0 = initial values then updates; -1 = a restarted stream, every entry delivered. */
  private async consume(
    iterator: AsyncIterable<KvWatchEntry> & { stop(): void },
    resumeFrom: number,
  ): Promise<void> {
    for await (const entry of iterator) {
      // Replaced by a watch on a new stream: what the old one still had buffered orders nothing there.
      if (this.iterator !== iterator) return;
      if (this.stopped || entry.revision <= this.lastRevision) continue;
      // Initial state: values only, as the memory bus does; afterwards every operation.
      if (resumeFrom === 0 && !entry.isUpdate && entry.operation !== "PUT") continue;
      this.lastRevision = entry.revision;
      const change: KvChange = { key: entry.key, revision: entry.revision, operation: entry.operation };
      if (entry.operation === "PUT") change.value = decodeJson(entry.string());
      try {
        this.handler(change);
      } catch (error) {
        this.host.logger.error(
          { bucket: this.owner.bucket, err: errorText(error) },
          "bus: kv watch handler failed",
        );
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.onStop();
    this.offReconnect();
    this.iterator?.stop();
  }

  /** Retries until it works, the watcher stops, or the bus disconnects again (the next reconnect retries). */
  private async resume(): Promise<void> {
    let failures = 0;
    while (!this.stopped && this.host.connection()) {
      try {
        await this.owner.guard("watch", (kv) => this.start(kv, false));
        if (failures > 0) {
          this.host.logger.info({ bucket: this.owner.bucket, failures }, "bus: kv watch resumed");
        }
        return;
      } catch (error) {
        // Once per outage: it retries every second until it works.
        if (failures++ === 0)
          this.host.logger.warn(
            { bucket: this.owner.bucket, err: errorText(error) },
            "bus: kv watch resume failed, retrying",
          );
        await new Promise((resolve) => setTimeout(resolve, WATCH_RETRY_MS));
      }
    }
  }
}

/** A stream's identity and position: a recreated bucket shows a new `createdAt` or a lower `lastRevision`. */
export function kvStatusOf(status: Awaited<ReturnType<KV["status"]>>): KvStatus {
  const info = status.streamInfo;
  const createdAt = Date.parse(info.created) || 0;
  // An empty stream reports the zero time (year 1).
  const lastWriteAt = info.state.last_seq > 0 ? Date.parse(info.state.last_ts) : Number.NaN;
  return {
    createdAt,
    lastRevision: info.state.last_seq,
    ttlMs: status.ttl,
    ...(lastWriteAt >= createdAt ? { lastWriteAt } : {}),
  };
}
