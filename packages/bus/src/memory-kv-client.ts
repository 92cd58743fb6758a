import { LvsqError } from "@lvsq/protocol";
import { busUnavailable } from "./errors.js";
import type { MemoryBucket } from "./memory-kv.js";
import { subjectMatches } from "./subject-match.js";
import type { Kv, KvChange, KvStatus, KvWatcher } from "./types.js";

/** One KV call as the fault hook sees it. */
export type KvOp = {
  client: string;
  bucket: string;
  op: "get" | "put" | "create" | "update" | "delete" | "keys" | "status" | "watch";
};
/**
 * What happens to one KV call: `ok`; `unavailable` (fails, nothing done); `reply-lost` (done, but the
 * caller only learns `bus_timeout`: JetStream applied the write and the ack never came back); `stale` (a
 * read answered by a replica one write behind; reads from the stream leader are never stale).
 */
export type KvFault = "ok" | "unavailable" | "reply-lost" | "stale";
export type KvFaultHook = (op: KvOp) => KvFault;

/** What a KV handle needs from the client that opened it (memory-bus.ts implements it). */
export interface KvClient {
  readonly name: string;
  isConnected(): boolean;
  /** Throws `bus_unavailable` naming `what` while the client is cut off. */
  assertConnected(what: string): void;
  addWatcher(watcher: MemoryWatcher): void;
  removeWatcher(watcher: MemoryWatcher): void;
  /** Schedules one KV change delivery through the network, not before `notBefore`; returns its due time. */
  scheduleChange(subject: string, run: () => void, notBefore: number): number;
  /** The network's per-call fault decision. */
  kvFault(op: KvOp): KvFault;
}

const WRITES = new Set<KvOp["op"]>(["put", "create", "update", "delete"]);

/** One client's handle on a bucket of the in-process network: every call fails while the client is cut off. */
export class MemoryKv implements Kv {
  readonly bucket: string;

  constructor(
    private readonly client: KvClient,
    private readonly store: MemoryBucket,
  ) {
    this.bucket = store.name;
  }

  /** Runs one call through the client's connection, the bucket's own fault and the per-call fault hook. */
  private async call<T>(op: KvOp["op"], what: string, run: () => T, stale?: () => T): Promise<T> {
    const label = `kv ${op} ${this.bucket}${what}`;
    this.client.assertConnected(label);
    if (this.store.fault === "unavailable") throw busUnavailable(`${label} (bucket unavailable)`);
    if (this.store.fault === "stalled") {
      await this.store.unstalled();
      this.client.assertConnected(label);
    }
    const fault = this.client.kvFault({ client: this.client.name, bucket: this.bucket, op });
    if (fault === "unavailable") throw busUnavailable(label);
    if (fault === "reply-lost") {
      if (WRITES.has(op)) {
        try {
          run();
        } catch {
          // The caller never learns whether it was a conflict: the reply is what got lost.
        }
      }
      throw new LvsqError("bus_timeout", `${label}: no reply`);
    }
    if (fault === "stale" && stale) return stale();
    return run();
  }

  get(key: string, options: { fromLeader?: boolean } = {}) {
    const lagging = options.fromLeader ? undefined : () => this.store.getStale(key);
    return this.call("get", `/${key}`, () => this.store.get(key), lagging);
  }

  put(key: string, value: unknown) {
    return this.call("put", `/${key}`, () => this.store.write(key, "PUT", value));
  }

  create(key: string, value: unknown) {
    return this.call("create", `/${key}`, () => this.store.create(key, value));
  }

  update(key: string, value: unknown, revision: number) {
    return this.call("update", `/${key}`, () => this.store.write(key, "PUT", value, revision));
  }

  async delete(key: string, options: { revision?: number } = {}) {
    await this.call("delete", `/${key}`, () => this.store.write(key, "DEL", undefined, options.revision));
  }

  keys(filter?: string) {
    return this.call("keys", "", () => this.store.keys(filter));
  }

  setMaxAge(ttlMs: number): Promise<void> {
    return this.call("status", "", () => {
      this.store.ttlMs = ttlMs;
    });
  }

  status(): Promise<KvStatus> {
    return this.call("status", "", () => ({
      createdAt: this.store.createdAt,
      lastRevision: this.store.lastRevision,
      ttlMs: this.store.ttlMs ?? 0,
      ...(this.store.lastWriteAt !== undefined ? { lastWriteAt: this.store.lastWriteAt } : {}),
    }));
  }

  async watch(
    filter: string | undefined,
    handler: (change: KvChange) => void,
    options: { updatesOnly?: boolean } = {},
  ): Promise<KvWatcher> {
    return this.call("watch", "", () => {
      const watcher = new MemoryWatcher(this.client, this.store, filter ?? ">", handler);
      watcher.start(options.updatesOnly ?? false);
      return watcher;
    });
  }
}

/**
 * Delivers a bucket's changes in revision order; after a partition heals it catches up from the store.
 * `kill()` is a consumer that died without a word (its JetStream node went away): nothing more arrives
 * until the client reconnects. A bucket reset starts it over from the new sequence.
 */
export class MemoryWatcher implements KvWatcher {
  private lastRevision = 0;
  private lastDue = 0;
  /** Bumped by a bucket reset: what the old stream's consumer still had in flight is never delivered. */
  private stream = 0;
  private stopped = false;
  private dead = false;
  private stopListening: (() => void) | undefined;
  private stopReset: (() => void) | undefined;

  constructor(
    private readonly client: KvClient,
    private readonly store: MemoryBucket,
    private readonly filter: string,
    private readonly handler: (change: KvChange) => void,
  ) {}

  start(updatesOnly: boolean): void {
    this.client.addWatcher(this);
    if (updatesOnly) this.lastRevision = this.store.lastRevision;
    else for (const change of this.store.changesAfter(this.filter, 0, true)) this.enqueue(change);
    this.stopListening = this.store.onChange((change) => {
      if (this.client.isConnected() && !this.dead && subjectMatches(this.filter, change.key))
        this.enqueue(change);
    });
    this.stopReset = this.store.onReset(() => {
      this.lastRevision = 0;
      this.stream++;
    });
  }

  /** A reconnect re-creates a dead consumer from the last revision delivered. */
  catchUp(): void {
    this.dead = false;
    for (const change of this.store.changesAfter(this.filter, this.lastRevision, false)) this.enqueue(change);
  }

  kill(): void {
    this.dead = true;
  }

  stop(): void {
    this.stopped = true;
    this.stopListening?.();
    this.stopReset?.();
    this.client.removeWatcher(this);
  }

  private enqueue(change: KvChange): void {
    if (this.stopped) return;
    const subject = `$KV.${this.store.name}.${change.key}`;
    const stream = this.stream;
    this.lastDue = this.client.scheduleChange(
      subject,
      () => {
        // A change of a stream since lost: its consumer went with it, and its revision orders nothing now.
        if (stream !== this.stream) return;
        if (this.stopped || this.dead || change.revision <= this.lastRevision) return;
        this.lastRevision = change.revision;
        this.handler(change);
      },
      this.lastDue,
    );
  }
}
