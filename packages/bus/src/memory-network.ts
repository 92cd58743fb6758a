import { raisesMaxAge } from "./kv-max-age.js";
import type { Logger } from "pino";
import { pino } from "pino";
import { type BucketFault, MemoryBucket } from "./memory-kv.js";
import type { KvFault, KvFaultHook, KvOp } from "./memory-kv-client.js";
import { type ClientNetwork, type Delivery, MemoryBusClient, type Target } from "./memory-bus.js";
import { subjectMatches } from "./subject-match.js";
import type { Bus, KvBucketOptions } from "./types.js";

export type { Delivery } from "./memory-bus.js";
export type { BucketFault } from "./memory-kv.js";
export type { KvFault, KvFaultHook, KvOp } from "./memory-kv-client.js";
/** "deliver" (default), "drop" (ignored for kv-change: JetStream does not lose them), or a delay in ms. */
export type FaultDecision = "deliver" | "drop" | number;
export type FaultHook = (delivery: Delivery) => FaultDecision;

export type MemoryNetworkOptions = {
  /** Clock for KV timestamps and bucket TTL expiry, and for due times in manual delivery. */
  now?: () => number;
  /**
   * false (default): messages are delivered on a microtask (or a real timer when delayed).
   * true: messages wait in a queue until `flush()`, which delivers those due at `now()`: a simulation
   * drives time and delivery itself.
   */
  manualDelivery?: boolean;
  logger?: Logger;
};

/** A simulated broker with several clients, for standalone mode and for the pair property tests. */
export interface MemoryNetwork {
  connect(name: string, options?: { logger?: Logger }): Bus;
  /** Cuts a client off (its publishes are lost, it receives nothing, KV fails) or heals it. */
  setPartitioned(name: string, partitioned: boolean): void;
  isPartitioned(name: string): boolean;
  /** Decides, per delivery, to deliver, drop or delay. `undefined` removes the hook. */
  setFaultHook(hook: FaultHook | undefined): void;
  /** Decides, per KV call, whether it works, fails, or is applied with its reply lost. */
  setKvFaultHook(hook: KvFaultHook | undefined): void;
  /** One bucket failing alone (its stream without a leader, or stalled), while everything else works. */
  setBucketFault(bucket: string, fault: BucketFault): void;
  bucketFault(bucket: string): BucketFault;
  /** The bucket is lost and made again: empty, sequence restarted, a new identity. */
  resetBucket(bucket: string): void;
  /** A client's KV watches die without a word (their consumer's node went away). */
  killWatchers(client: string): void;
  /** Delivers every queued message due at `now()` (manual mode); returns how many were delivered. */
  flush(): number;
  /** Messages waiting in the queue. */
  pending(): number;
  now(): number;
}

type Queued = { dueAt: number; order: number; to: MemoryBusClient; run: () => void };

const FLUSH_LIMIT = 1_000_000;

export class MemoryNetworkImpl implements MemoryNetwork, ClientNetwork {
  readonly logger: Logger;
  private readonly clock: () => number;
  private readonly manual: boolean;
  private readonly clients = new Map<string, MemoryBusClient>();
  private readonly partitioned = new Set<string>();
  private readonly targets = new Set<Target>();
  private readonly buckets = new Map<string, MemoryBucket>();
  private readonly queue: Queued[] = [];
  private readonly queueGroupTurn = new Map<string, number>();
  private hook: FaultHook | undefined;
  private kvHook: KvFaultHook | undefined;
  private order = 0;

  constructor(options: MemoryNetworkOptions) {
    this.clock = options.now ?? Date.now;
    this.manual = options.manualDelivery ?? false;
    this.logger = options.logger ?? pino({ level: "silent" });
  }

  now(): number {
    return this.clock();
  }

  connect(name: string, options: { logger?: Logger } = {}): Bus {
    const client = new MemoryBusClient(this, name, options.logger ?? this.logger);
    this.clients.set(name, client);
    return client;
  }

  setPartitioned(name: string, partitioned: boolean): void {
    if (partitioned === this.partitioned.has(name)) return;
    if (partitioned) this.partitioned.add(name);
    else this.partitioned.delete(name);
    this.clients.get(name)?.partitionChanged(partitioned);
  }

  isPartitioned(name: string): boolean {
    return this.partitioned.has(name);
  }

  setFaultHook(hook: FaultHook | undefined): void {
    this.hook = hook;
  }

  setKvFaultHook(hook: KvFaultHook | undefined): void {
    this.kvHook = hook;
  }

  kvFault(op: KvOp): KvFault {
    return this.kvHook?.(op) ?? "ok";
  }

  setBucketFault(bucket: string, fault: BucketFault): void {
    this.bucket(bucket, {}).setFault(fault);
  }

  bucketFault(bucket: string): BucketFault {
    return this.buckets.get(bucket)?.fault ?? "ok";
  }

  resetBucket(bucket: string): void {
    this.bucket(bucket, {}).reset();
  }

  killWatchers(client: string): void {
    this.clients.get(client)?.killWatchers();
  }

  pending(): number {
    return this.queue.length;
  }

  flush(): number {
    let delivered = 0;
    while (delivered < FLUSH_LIMIT) {
      const now = this.clock();
      let next = -1;
      for (let i = 0; i < this.queue.length; i++) {
        const item = this.queue[i]!;
        const best = this.queue[next];
        if (
          item.dueAt <= now &&
          (!best || item.dueAt < best.dueAt || (item.dueAt === best.dueAt && item.order < best.order))
        )
          next = i;
      }
      if (next < 0) break;
      const [item] = this.queue.splice(next, 1);
      item!.run();
      delivered++;
    }
    return delivered;
  }

  addTarget(target: Target): () => void {
    this.targets.add(target);
    return () => this.targets.delete(target);
  }

  dropClient(client: MemoryBusClient): void {
    for (const target of this.targets) if (target.client === client) this.targets.delete(target);
    if (this.clients.get(client.name) === client) this.clients.delete(client.name);
  }

  /** Routes one message; returns how many subscribers it was addressed to (0 = no responders). */
  route(from: MemoryBusClient, subject: string, text: string, reply?: string): number {
    const matching = [...this.targets].filter((target) => subjectMatches(target.subject, subject));
    const chosen: Target[] = [];
    const groups = new Map<string, Target[]>();
    for (const target of matching) {
      if (target.queue === undefined) chosen.push(target);
      else groups.set(target.queue, [...(groups.get(target.queue) ?? []), target]);
    }
    for (const [queue, members] of groups) {
      const turn = this.queueGroupTurn.get(queue) ?? 0;
      this.queueGroupTurn.set(queue, turn + 1);
      chosen.push(members[turn % members.length]!);
    }
    for (const target of chosen) {
      this.schedule(
        { kind: "message", from: from.name, to: target.client.name, subject },
        target.client,
        () => {
          if (this.targets.has(target)) target.receive(subject, text, reply);
        },
      );
    }
    return chosen.length;
  }

  /**
   * Queues one delivery after the fault hook's decision; the receiver's partition is checked again when it
   * is due. `notBefore` keeps a watcher's changes in order under random delays.
   */
  schedule(delivery: Delivery, to: MemoryBusClient, run: () => void, notBefore = 0): number {
    const decision = this.hook?.(delivery) ?? "deliver";
    if (decision === "drop" && delivery.kind === "message") return -1;
    const delayMs = typeof decision === "number" ? Math.max(0, decision) : 0;
    const guarded = () => {
      if (!this.partitioned.has(to.name) && !to.isClosed()) run();
    };
    if (this.manual) {
      const dueAt = Math.max(this.clock() + delayMs, notBefore);
      this.queue.push({ dueAt, order: this.order++, to, run: guarded });
      return dueAt;
    }
    const waitMs = Math.max(delayMs, notBefore - Date.now());
    if (waitMs <= 0) queueMicrotask(guarded);
    else setTimeout(guarded, waitMs).unref();
    return Date.now() + waitMs;
  }

  bucket(name: string, options: KvBucketOptions): MemoryBucket {
    let bucket = this.buckets.get(name);
    if (!bucket) {
      bucket = new MemoryBucket(name, options, this.clock);
      this.buckets.set(name, bucket);
    } else {
      // Like the NATS bus: an opener only raises the max age (lowering it would expire a lease its holder
      // still counts on); the lease holder lowers it (MemoryKv.setMaxAge).
      if (raisesMaxAge(bucket.ttlMs ?? 0, options.ttlMs ?? 0)) bucket.ttlMs = options.ttlMs;
      if (options.history !== undefined) bucket.history = options.history;
    }
    return bucket;
  }
}

export function createMemoryNetwork(options: MemoryNetworkOptions = {}): MemoryNetwork {
  return new MemoryNetworkImpl(options);
}

/** A single in-process bus (standalone mode): one client on a private network. */
export function createMemoryBus(options: MemoryNetworkOptions & { name?: string } = {}): Bus {
  return createMemoryNetwork(options).connect(options.name ?? "local");
}
