import type { ZodType } from "zod";

/**
 * The one interface agents talk to. Two implementations share its semantics: `connectNatsBus` (NATS core +
 * JetStream KV) and `createMemoryBus` / `createMemoryNetwork` (in-process, for standalone mode and tests).
 * Payloads are JSON values; inbound messages are validated with zod and dropped (counted, warned) when bad,
 * never thrown at the caller.
 */
export interface Bus {
  /** The client name (NATS connection name, or the memory client's name). */
  readonly name: string;
  /**
   * Fire-and-forget. Returns false (and counts `publishDropped`) when the bus is not connected: nothing is
   * buffered during an outage, so a publisher re-sends its full state on `reconnected` instead.
   */
  publish(subject: string, payload: unknown): boolean;
  /** Validated subscribe: messages failing JSON or `schema.safeParse` are dropped, counted and warned about. */
  subscribe<T>(
    subject: string,
    schema: ZodType<T>,
    handler: (message: T, subject: string) => void | Promise<void>,
    options?: SubscribeOptions,
  ): BusSubscription;
  /**
   * Answers requests on `subject` with the handler's return value (JSON). A handler that throws answers
   * `{ error: message }`. Requests are not validated here: the handler parses its own input.
   */
  serve(
    subject: string,
    handler: (request: unknown, subject: string) => unknown,
    options?: SubscribeOptions,
  ): BusSubscription;
  /**
   * Sends one request and resolves with the (JSON) reply. Rejects with LvsqError `bus_timeout` after
   * `timeoutMs`, `not_found` when nobody serves the subject, `bus_unavailable` when not connected.
   */
  request(subject: string, payload: unknown, timeoutMs: number): Promise<unknown>;
  /** Opens (creating if needed) a KV bucket. `ttlMs` is the bucket's max age: the only TTL lvsq relies on. */
  kv(bucket: string, options?: KvBucketOptions): Promise<Kv>;
  /** Connection status changes; returns an unsubscribe function. */
  onStatus(listener: (status: BusStatus) => void): () => void;
  isConnected(): boolean;
  /**
   * Whether the server this client is connected to has JetStream (the KV buckets) on, as its INFO says;
   * undefined while not connected. A fleet on core NATS alone has no buckets: no pairs, no admin overrides.
   */
  hasJetStream(): boolean | undefined;
  stats(): BusStats;
  /** Idempotent. Stops watchers and subscriptions and closes the connection. */
  close(): Promise<void>;
}

export type SubscribeOptions = {
  /** Queue group: each message goes to one member of the group. */
  queue?: string;
};

export interface BusSubscription {
  readonly subject: string;
  unsubscribe(): void;
}

export type BusStatus =
  | { type: "connected"; server: string }
  | { type: "disconnected"; server: string }
  | { type: "reconnecting" }
  | { type: "reconnected"; server: string }
  | { type: "permission-error"; operation: "publish" | "subscription"; subject: string; message: string }
  | { type: "error"; message: string }
  | { type: "closed" };

/** Why an inbound message never reached its handler (or its handler failed). */
export type DropReason = "invalid-json" | "schema" | "handler-error";

export type BusStats = {
  /** Messages handed to the connection. */
  published: number;
  /** Publishes refused because the bus was not connected (or the connection rejected them). */
  publishDropped: number;
  /** Inbound messages that passed validation and were handed to a handler. */
  delivered: number;
  dropped: Record<DropReason, number>;
};

export type KvBucketOptions = {
  /** Bucket max age in ms (JetStream `max_age`): an entry not rewritten within it disappears, silently. */
  ttlMs?: number;
  /** Revisions kept per key (default 1). */
  history?: number;
};

export type KvEntry = {
  key: string;
  /** The stored JSON value, parsed; `undefined` if the stored bytes are not JSON. */
  value: unknown;
  /** Bucket-wide, strictly increasing: use it for compare-and-set (`update`). */
  revision: number;
  /** When this revision was written (epoch ms, server clock). */
  createdAt: number;
};

export type KvOperation = "PUT" | "DEL" | "PURGE";

export type KvChange = {
  key: string;
  revision: number;
  operation: KvOperation;
  /** Present for PUT. */
  value?: unknown;
};

/** What a bucket says about itself: its identity (a recreated bucket is a new one) and its actual max age. */
export type KvStatus = {
  /** When the bucket's stream was created (epoch ms): changes when the bucket is lost and made again. */
  createdAt: number;
  /** The bucket-wide sequence now: smaller than a revision seen before = the sequence restarted. */
  lastRevision: number;
  /** The max age the server applies now (0 = none), whatever this client asked for. */
  ttlMs: number;
  /**
   * When the newest message was stored (epoch ms, the server's clock; kept after it expires), undefined
   * when the stream has had none. With `createdAt`, a bucket's age that no client's clock skew can fake.
   */
  lastWriteAt?: number;
};

export interface KvWatcher {
  stop(): void;
}

/**
 * A key-value bucket. Reads treat delete markers as absent (`operation === "PUT"` is the only value).
 * `create` and `update` are compare-and-set: they reject with `KvConflictError` when the key exists /
 * the revision is stale; every other failure is an LvsqError `bus_unavailable` or `bus_timeout`.
 */
export interface Kv {
  readonly bucket: string;
  /** `fromLeader`: answered by the stream leader, never a replica that may lag behind (slower; for leases). */
  get(key: string, options?: { fromLeader?: boolean }): Promise<KvEntry | undefined>;
  put(key: string, value: unknown): Promise<number>;
  create(key: string, value: unknown): Promise<number>;
  update(key: string, value: unknown, revision: number): Promise<number>;
  /** Writes a delete marker; with `revision`, only if the key is still at that revision. */
  delete(key: string, options?: { revision?: number }): Promise<void>;
  /** Live keys matching `filter` (an exact key or a NATS wildcard such as `edge.>`; default all). */
  keys(filter?: string): Promise<string[]>;
  /** The bucket's identity, sequence and max age as the server has them now. */
  status(): Promise<KvStatus>;
  /**
   * Sets the bucket's max age (ms). Opening a bucket only ever raises it: lowering it expires at once any
   * key older than the new age, such as a lease its holder still counts on. Only a lease holder, right
   * after renewing, lowers it to its own lease time (see lease.ts).
   */
  setMaxAge(ttlMs: number): Promise<void>;
  /**
   * Calls `handler` with the current value of every matching key (unless `updatesOnly`), then with every
   * change, in revision order. Expiry by bucket TTL produces NO event (nats-server 2.9): poll for it.
   * When the bucket was recreated (its sequence restarted) the watch starts over: every current value
   * again, at the new revisions.
   */
  watch(
    filter: string | undefined,
    handler: (change: KvChange) => void,
    options?: { updatesOnly?: boolean },
  ): Promise<KvWatcher>;
}
