import { JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { LvsqError } from "@lvsq/protocol";
import { type NatsConnection, nanos, TimeoutError } from "@nats-io/transport-node";
import { busUnavailable, KvConflictError } from "./errors.js";
import { decodeJson, encodeJson, errorText } from "./inbound.js";
import { raisesMaxAge } from "./kv-max-age.js";
import { kvStatusOf, NatsWatcher, type WatchHost } from "./nats-kv-watcher.js";
import type { Kv, KvBucketOptions, KvChange, KvEntry, KvStatus, KvWatcher } from "./types.js";

/** What a NatsKv needs from its bus: the live connection (replaced if the bus has to dial again). */
export interface KvHost extends WatchHost {
  readonly kvTimeoutMs: number;
  kvReplicas(): { replicas: number; configured: boolean };
}

const REOPEN_MS = 2_000;

/** JetStream KV behind the Kv interface: bucket TTL via max_age only (2.9 ignores per-key TTLs). */
export class NatsKv implements Kv {
  private opened: { nc: NatsConnection; kv: KV; at: number } | undefined;
  private streamCreatedAt: number | undefined;
  private readonly watchers = new Set<NatsWatcher>();

  constructor(
    private readonly host: KvHost,
    readonly bucket: string,
    private readonly options: KvBucketOptions,
  ) {}

  /**
   * Creates the bucket, or aligns an existing one: its max age with `ttlMs` (a changed lease time), and its
   * replicas with the wanted number (raised when the cluster grew; lowered only when configured so).
   */
  async open(): Promise<KV> {
    const nc = this.host.connection();
    if (!nc) throw busUnavailable(`kv ${this.bucket}`);
    if (this.opened?.nc === nc) return this.opened.kv;
    const js = jetstream(nc, { timeout: this.host.kvTimeoutMs });
    const { replicas, configured } = this.host.kvReplicas();
    let kv: KV;
    try {
      kv = await new Kvm(js).create(this.bucket, {
        history: this.options.history ?? 1,
        replicas,
        ...(this.options.ttlMs ? { ttl: this.options.ttlMs } : {}),
      });
    } catch (error) {
      if (
        replicas > 1 &&
        /insufficient resources|no suitable peers|replicas > 1 not supported/i.test(errorText(error))
      ) {
        throw new LvsqError(
          "bus_unavailable",
          `kv ${this.bucket}: JetStream cannot place ${replicas} replicas (${errorText(error)}); set nats.replicas to at most the cluster's node count`,
          { cause: error },
        );
      }
      throw error;
    }
    const ttlMs = this.options.ttlMs ?? 0;
    const status = await kv.status();
    const createdAt = kvStatusOf(status).createdAt;
    const recreated = this.streamCreatedAt !== undefined && createdAt !== this.streamCreatedAt;
    this.streamCreatedAt = createdAt;
    const config = status.streamInfo.config;
    const current = config.num_replicas || 1;
    const rescale = current !== replicas && (configured || replicas > current);
    // Only raised here: lowering the max age expires at once a lease key its holder still counts on (the
    // holder lowers it itself, setMaxAge).
    const ttlChange = raisesMaxAge(status.ttl, ttlMs);
    if (ttlChange || rescale) {
      const jsm = await jetstreamManager(nc, { timeout: this.host.kvTimeoutMs });
      await jsm.streams.update(config.name, {
        ...(ttlChange ? { max_age: nanos(ttlMs) } : {}),
        ...(rescale ? { num_replicas: replicas } : {}),
      });
      this.host.logger.info(
        {
          bucket: this.bucket,
          oldTtlMs: status.ttl,
          ttlMs: ttlChange ? ttlMs : status.ttl,
          oldReplicas: current,
          replicas: rescale ? replicas : current,
        },
        "bus: kv bucket settings changed",
      );
    }
    this.opened = { nc, kv, at: Date.now() };
    // A new stream under the old name: the watches' consumers died with the old one, maybe silently.
    if (recreated) for (const watcher of this.watchers) watcher.restart();
    return kv;
  }

  get(key: string, options: { fromLeader?: boolean } = {}): Promise<KvEntry | undefined> {
    if (options.fromLeader) return this.getFromLeader(key);
    return this.guard(`get ${key}`, async (kv) => {
      const entry = await kv.get(key);
      if (entry?.operation !== "PUT") return undefined;
      return {
        key,
        value: decodeJson(entry.string()),
        revision: entry.revision,
        createdAt: entry.created.getTime(),
      };
    });
  }

  /**
   * A direct get (the client's default where the stream allows it) may be answered by any replica,
   * including one that has not yet stored the last write: a lease holder reading its own key there sees
   * an old revision, and its compare-and-set then conflicts with itself. The stream's message-get API is
   * answered by the stream leader only.
   */
  private getFromLeader(key: string): Promise<KvEntry | undefined> {
    return this.guard(`get ${key}`, async () => {
      const nc = this.host.connection();
      if (!nc) throw busUnavailable(`kv ${this.bucket} get ${key}`);
      const jsm = await jetstreamManager(nc, { timeout: this.host.kvTimeoutMs, checkAPI: false });
      let stored: Awaited<ReturnType<typeof jsm.streams.getMessage>>;
      try {
        stored = await jsm.streams.getMessage(`KV_${this.bucket}`, {
          last_by_subj: `$KV.${this.bucket}.${key}`,
        });
      } catch (error) {
        if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.NoMessageFound)
          return undefined;
        throw error;
      }
      if (!stored) return undefined;
      const operation = stored.header?.get("KV-Operation");
      if (operation === "DEL" || operation === "PURGE") return undefined;
      return {
        key,
        value: decodeJson(stored.string()),
        revision: stored.seq,
        createdAt: stored.time.getTime(),
      };
    });
  }

  put(key: string, value: unknown): Promise<number> {
    return this.guard(`put ${key}`, (kv) => kv.put(key, encodeJson(value)));
  }

  create(key: string, value: unknown): Promise<number> {
    return this.guard(`create ${key}`, (kv) => kv.create(key, encodeJson(value)), key);
  }

  update(key: string, value: unknown, revision: number): Promise<number> {
    return this.guard(`update ${key}`, (kv) => kv.update(key, encodeJson(value), revision), key);
  }

  delete(key: string, options: { revision?: number } = {}): Promise<void> {
    const previous = options.revision === undefined ? {} : { previousSeq: options.revision };
    return this.guard(`delete ${key}`, (kv) => kv.delete(key, previous), key);
  }

  /**
   * `kv.keys()` is a consumer read to its end, with no deadline of its own: on a JetStream stall it would
   * wait forever, and so would a lease round awaiting it. It gets the bus's KV timeout like every call.
   */
  keys(filter = ">"): Promise<string[]> {
    return this.guard("keys", async (kv) => {
      const found: string[] = [];
      let iterator: { stop(): void } | undefined;
      const read = (async () => {
        const keys = await kv.keys(filter);
        iterator = keys;
        for await (const key of keys) found.push(key);
        return found;
      })();
      try {
        return await withDeadline(read, this.host.kvTimeoutMs, `kv ${this.bucket} keys`);
      } finally {
        iterator?.stop();
      }
    });
  }

  setMaxAge(ttlMs: number): Promise<void> {
    return this.guard("set max age", async (kv) => {
      const nc = this.host.connection();
      if (!nc) throw busUnavailable(`kv ${this.bucket}`);
      const config = (await kv.status()).streamInfo.config;
      const jsm = await jetstreamManager(nc, { timeout: this.host.kvTimeoutMs });
      // JetStream refuses a duplicates window longer than the max age.
      const window = Math.min(config.duplicate_window || Number.POSITIVE_INFINITY, nanos(ttlMs));
      await jsm.streams.update(config.name, { max_age: nanos(ttlMs), duplicate_window: window });
      this.host.logger.info(
        { bucket: this.bucket, ttlMs },
        "bus: kv bucket max age lowered by the lease holder",
      );
    });
  }

  status(): Promise<KvStatus> {
    return this.guard("status", async (kv) => kvStatusOf(await kv.status()));
  }

  async watch(
    filter: string | undefined,
    handler: (change: KvChange) => void,
    options: { updatesOnly?: boolean } = {},
  ): Promise<KvWatcher> {
    const watcher = new NatsWatcher(this, filter ?? ">", handler, this.host, () =>
      this.watchers.delete(watcher),
    );
    await this.guard("watch", (kv) => watcher.start(kv, options.updatesOnly ?? false));
    this.watchers.add(watcher);
    return watcher;
  }

  async guard<T>(what: string, run: (kv: KV) => Promise<T>, conflictKey?: string): Promise<T> {
    const label = `kv ${this.bucket} ${what}`;
    if (!this.host.connection()) throw busUnavailable(label);
    try {
      return await run(await this.open());
    } catch (error) {
      if (error instanceof LvsqError) throw error;
      if (
        conflictKey !== undefined &&
        error instanceof JetStreamApiError &&
        (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
          error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
      ) {
        throw new KvConflictError(this.bucket, conflictKey, error.message, { cause: error });
      }
      // The bucket's stream may be gone (lost with its node's disk, deleted): a write to it then fails as
      // "jetstream is not enabled" (no responders), just like during a stream leader election. Open it again
      // (which makes a missing one) at most every REOPEN_MS, instead of failing on the old handle forever.
      const streamGone =
        error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
      if (this.opened && (streamGone || Date.now() - this.opened.at >= REOPEN_MS)) this.opened = undefined;
      if (error instanceof TimeoutError) {
        throw new LvsqError("bus_timeout", `${label}: ${error.message}`, { cause: error });
      }
      throw busUnavailable(label, error);
    }
  }
}

/** Rejects with LvsqError `bus_timeout` when `work` takes longer than `ms`. */
function withDeadline<T>(work: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LvsqError("bus_timeout", `${label}: no answer in ${ms} ms`)), ms);
  });
  work.catch(() => {});
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
