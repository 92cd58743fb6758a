import { LvsqError } from "@lvsq/protocol";
import type { Logger } from "pino";
import type { ZodType } from "zod";
import { busUnavailable } from "./errors.js";
import { decodeJson, encodeJson, errorText, Inbound } from "./inbound.js";
import type { MemoryBucket } from "./memory-kv.js";
import { type KvClient, type KvFault, type KvOp, MemoryKv, type MemoryWatcher } from "./memory-kv-client.js";
import type {
  Bus,
  BusStats,
  BusStatus,
  BusSubscription,
  Kv,
  KvBucketOptions,
  SubscribeOptions,
} from "./types.js";

const SERVER = "memory";

/** What the fault hook sees for each delivery (a message to one subscriber, or a KV change to one watcher). */
export type Delivery = { kind: "message" | "kv-change"; from: string; to: string; subject: string };

/** A subscription as the network routes to it. */
export type Target = {
  client: MemoryBusClient;
  subject: string;
  queue: string | undefined;
  receive(subject: string, text: string, reply: string | undefined): void;
};

/**
 * What a client needs from the network it is connected to (memory-network.ts implements it); declared here
 * so the client does not import the network that creates it.
 */
export interface ClientNetwork {
  now(): number;
  isPartitioned(name: string): boolean;
  /** Routes one message; returns how many subscribers it was addressed to (0 = no responders). */
  route(from: MemoryBusClient, subject: string, text: string, reply?: string): number;
  /** Queues one delivery after the fault hook's decision; returns when it is due. */
  schedule(delivery: Delivery, to: MemoryBusClient, run: () => void, notBefore?: number): number;
  addTarget(target: Target): () => void;
  dropClient(client: MemoryBusClient): void;
  bucket(name: string, options: KvBucketOptions): MemoryBucket;
  kvFault(op: KvOp): KvFault;
}

/** One client of a MemoryNetwork: the same semantics as the NATS bus, in process. */
export class MemoryBusClient implements Bus, KvClient {
  private readonly inbound: Inbound;
  private readonly statusListeners = new Set<(status: BusStatus) => void>();
  private readonly watchers = new Set<MemoryWatcher>();
  private readonly unsubscribers = new Set<() => void>();
  private closed = false;
  private inboxCount = 0;

  constructor(
    private readonly network: ClientNetwork,
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

  /** The in-process network always has its KV store. */
  hasJetStream(): boolean | undefined {
    return this.isConnected() ? true : undefined;
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
    const store = this.network.bucket(bucket, options);
    if (store.fault === "unavailable") throw busUnavailable(`kv ${bucket} (bucket unavailable)`);
    return new MemoryKv(this, store);
  }

  kvFault(op: KvOp): KvFault {
    return this.network.kvFault(op);
  }

  /** Every watch of this client dies silently (until the next reconnect re-creates it). */
  killWatchers(): void {
    for (const watcher of this.watchers) watcher.kill();
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
