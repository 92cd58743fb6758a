import type { MemoryBucket } from "./memory-kv.js";
import { subjectMatches } from "./subject-match.js";
import type { Kv, KvChange, KvWatcher } from "./types.js";

/** What a KV handle needs from the client that opened it (memory-bus.ts implements it). */
export interface KvClient {
  isConnected(): boolean;
  /** Throws `bus_unavailable` naming `what` while the client is cut off. */
  assertConnected(what: string): void;
  addWatcher(watcher: MemoryWatcher): void;
  removeWatcher(watcher: MemoryWatcher): void;
  /** Schedules one KV change delivery through the network, not before `notBefore`; returns its due time. */
  scheduleChange(subject: string, run: () => void, notBefore: number): number;
}

/** One client's handle on a bucket of the in-process network: every call fails while the client is cut off. */
export class MemoryKv implements Kv {
  readonly bucket: string;

  constructor(
    private readonly client: KvClient,
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
export class MemoryWatcher implements KvWatcher {
  private lastRevision = 0;
  private lastDue = 0;
  private stopped = false;
  private stopListening: (() => void) | undefined;

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
