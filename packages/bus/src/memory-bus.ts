import { LvsqError } from "@lvsq/protocol";
import type { Logger } from "pino";
import type { ZodType } from "zod";
import { busUnavailable } from "./errors.js";
import { decodeJson, encodeJson, errorText, Inbound } from "./inbound.js";
import type { MemoryBucket } from "./memory-kv.js";
import type { MemoryNetworkImpl } from "./memory-network.js";
import { subjectMatches } from "./subject-match.js";
import type {
  Bus,
  BusStats,
  BusStatus,
  BusSubscription,
  Kv,
  KvBucketOptions,
  KvChange,
  KvWatcher,
  SubscribeOptions,
} from "./types.js";

const SERVER = "memory";

/** One client of a MemoryNetwork: the same semantics as the NATS bus, in process. */
export class MemoryBusClient implements Bus {
  private readonly inbound: Inbound;
  private readonly statusListeners = new Set<(status: BusStatus) => void>();
  private readonly watchers = new Set<MemoryWatcher>();
  private readonly unsubscribers = new Set<() => void>();
  private closed = false;
  private inboxCount = 0;

  constructor(
    private readonly network: MemoryNetworkImpl,
    readonly name: string,
    private readonly logger: Logger,
  ) {
    this.inbound = new Inbound(logger, () => network.now());
  }

  isClosed(): boolean {
    return this.closed;
  }

  isConnected(): boolean {
    return !this.closed && !this.network.isPartitioned(this.name);
  }

  publish(subject: string, payload: unknown): boolean {
    if (!this.isConnected()) {
      this.inbound.counters.publishDropped++;
      return false;
    }
    this.inbound.counters.published++;
    this.network.route(this, subject, encodeJson(payload));
    return true;
  }

  subscribe<T>(
    subject: string,
    schema: ZodType<T>,
    handler: (message: T, subject: string) => void | Promise<void>,
    options: SubscribeOptions = {},
  ): BusSubscription {
    return this.listen(subject, options.queue, (actual, text) =>
      this.inbound.deliver(actual, text, schema, handler),
    );
  }

  serve(
    subject: string,
    handler: (request: unknown, subject: string) => unknown,
    options: SubscribeOptions = {},
  ): BusSubscription {
    return this.listen(subject, options.queue, (actual, text, reply) => {
      if (reply === undefined) return;
      Promise.resolve()
        .then(() => handler(decodeJson(text), actual))
        .catch((error: unknown) => ({ error: errorText(error) }))
        .then((answer) => {
          if (this.isConnected()) this.network.route(this, reply, encodeJson(answer ?? null));
        });
    });
  }

  request(subject: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    if (!this.isConnected()) return Promise.reject(busUnavailable(`request ${subject}`));
    const inbox = `_INBOX.${this.name}.${++this.inboxCount}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        sub.unsubscribe();
        reject(new LvsqError("bus_timeout", `request ${subject}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const sub = this.listen(inbox, undefined, (_subject, text) => {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(decodeJson(text));
      });
      this.inbound.counters.published++;
      if (this.network.route(this, subject, encodeJson(payload), inbox) === 0) {
        clearTimeout(timer);
        sub.unsubscribe();
        reject(new LvsqError("not_found", `request ${subject}: no responders`));
      }
    });
  }

  async kv(bucket: string, options: KvBucketOptions = {}): Promise<Kv> {
    this.assertConnected(`kv ${bucket}`);
    return new MemoryKv(this, this.network.bucket(bucket, options));
  }

  onStatus(listener: (status: BusStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  stats(): BusStats {
    return this.inbound.snapshot();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const watcher of this.watchers) watcher.stop();
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    this.network.dropClient(this);
    this.emit({ type: "closed" });
  }

  partitionChanged(partitioned: boolean): void {
    if (this.closed) return;
    this.logger.warn({ partitioned }, partitioned ? "bus: disconnected" : "bus: reconnected");
    this.emit(
      partitioned ? { type: "disconnected", server: SERVER } : { type: "reconnected", server: SERVER },
    );
    if (!partitioned) for (const watcher of this.watchers) watcher.catchUp();
  }

  assertConnected(what: string): void {
    if (!this.isConnected()) throw busUnavailable(what);
  }

  addWatcher(watcher: MemoryWatcher): void {
    this.watchers.add(watcher);
  }

  removeWatcher(watcher: MemoryWatcher): void {
    this.watchers.delete(watcher);
  }

  scheduleChange(subject: string, run: () => void, notBefore: number): number {
    return this.network.schedule(
      { kind: "kv-change", from: SERVER, to: this.name, subject },
      this,
      run,
      notBefore,
    );
  }

  private listen(
    subject: string,
    queue: string | undefined,
    receive: (subject: string, text: string, reply: string | undefined) => void,
  ): BusSubscription {
    const remove = this.network.addTarget({ client: this, subject, queue, receive });
    this.unsubscribers.add(remove);
    return {
      subject,
      unsubscribe: () => {
        remove();
        this.unsubscribers.delete(remove);
      },
    };
  }

  private emit(status: BusStatus): void {
    for (const listener of this.statusListeners) {
      try {
        listener(status);
      } catch (error) {
        this.logger.error({ err: errorText(error), status: status.type }, "bus: status listener failed");
      }
    }
  }
}

class MemoryKv implements Kv {
  readonly bucket: string;

  constructor(
    private readonly client: MemoryBusClient,
    private readonly store: MemoryBucket,
  ) {
    this.bucket = store.name;
  }

  async get(key: string) {
    this.client.assertConnected(`kv get ${this.bucket}/${key}`);
    return this.store.get(key);
  }

  async put(key: string, value: unknown) {
    this.client.assertConnected(`kv put ${this.bucket}/${key}`);
    return this.store.write(key, "PUT", value);
  }

  async create(key: string, value: unknown) {
    this.client.assertConnected(`kv create ${this.bucket}/${key}`);
    return this.store.create(key, value);
  }

  async update(key: string, value: unknown, revision: number) {
    this.client.assertConnected(`kv update ${this.bucket}/${key}`);
    return this.store.write(key, "PUT", value, revision);
  }

  async delete(key: string, options: { revision?: number } = {}) {
    this.client.assertConnected(`kv delete ${this.bucket}/${key}`);
    this.store.write(key, "DEL", undefined, options.revision);
  }

  async keys(filter?: string) {
    this.client.assertConnected(`kv keys ${this.bucket}`);
    return this.store.keys(filter);
  }

  async watch(
    filter: string | undefined,
    handler: (change: KvChange) => void,
    options: { updatesOnly?: boolean } = {},
  ): Promise<KvWatcher> {
    this.client.assertConnected(`kv watch ${this.bucket}`);
    const watcher = new MemoryWatcher(this.client, this.store, filter ?? ">", handler);
    watcher.start(options.updatesOnly ?? false);
    return watcher;
  }
}

/** Delivers a bucket's changes in revision order; after a partition heals it catches up from the store. */
class MemoryWatcher implements KvWatcher {
  private lastRevision = 0;
  private lastDue = 0;
  private stopped = false;
  private stopListening: (() => void) | undefined;

  constructor(
    private readonly client: MemoryBusClient,
    private readonly store: MemoryBucket,
    private readonly filter: string,
    private readonly handler: (change: KvChange) => void,
  ) {}

  start(updatesOnly: boolean): void {
    this.client.addWatcher(this);
    if (updatesOnly) this.lastRevision = this.store.lastRevision;
    else for (const change of this.store.changesAfter(this.filter, 0, true)) this.enqueue(change);
    this.stopListening = this.store.onChange((change) => {
      if (this.client.isConnected() && subjectMatches(this.filter, change.key)) this.enqueue(change);
    });
  }

  catchUp(): void {
    for (const change of this.store.changesAfter(this.filter, this.lastRevision, false)) this.enqueue(change);
  }

  stop(): void {
    this.stopped = true;
    this.stopListening?.();
    this.client.removeWatcher(this);
  }

  private enqueue(change: KvChange): void {
    if (this.stopped) return;
    const subject = `$KV.${this.store.name}.${change.key}`;
    this.lastDue = this.client.scheduleChange(
      subject,
      () => {
        if (this.stopped || change.revision <= this.lastRevision) return;
        this.lastRevision = change.revision;
        this.handler(change);
      },
      this.lastDue,
    );
  }
}
