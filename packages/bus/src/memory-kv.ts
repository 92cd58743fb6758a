import { KvConflictError } from "./errors.js";
import { decodeJson } from "./inbound.js";
import { subjectMatches } from "./subject-match.js";
import type { KvBucketOptions, KvChange, KvEntry, KvOperation } from "./types.js";

type StoredEntry = { key: string; text: string; revision: number; createdAt: number; operation: KvOperation };

/**
 * A bucket's own failure, independent of the clients' connections (JetStream streams fail one by one: a
 * stream without its leader, a lost R1 stream): `unavailable` fails every call at once, `stalled` holds
 * every call until the fault clears (a JetStream stall; the calls then run, late).
 */
export type BucketFault = "ok" | "unavailable" | "stalled";

/**
 * One in-process bucket with JetStream KV semantics as nats-server 2.9 has them: a bucket-wide revision
 * sequence, compare-and-set on the key's last revision (delete markers included), and a bucket max age
 * that removes entries silently (no event), applied lazily against the injected clock.
 */
export class MemoryBucket {
  private sequence = 0;
  private readonly entries = new Map<string, StoredEntry>();
  /** Each key's entry before its last write (null: it did not exist): what a lagging replica still serves. */
  private readonly previous = new Map<string, StoredEntry | null>();
  private readonly listeners = new Set<(change: KvChange) => void>();
  private readonly resetListeners = new Set<() => void>();
  private stalled: (() => void)[] = [];
  private currentFault: BucketFault = "ok";
  ttlMs: number | undefined;
  history: number;
  /** The stream's creation time: a reset makes a new one. */
  createdAt: number;
  /** When the newest message was stored (kept after it expires), undefined while there was none. */
  lastWriteAt: number | undefined;

  constructor(
    readonly name: string,
    options: KvBucketOptions,
    private readonly now: () => number,
  ) {
    this.ttlMs = options.ttlMs;
    this.history = options.history ?? 1;
    this.createdAt = now();
  }

  get fault(): BucketFault {
    return this.currentFault;
  }

  setFault(fault: BucketFault): void {
    this.currentFault = fault;
    if (fault === "stalled") return;
    const waiting = this.stalled;
    this.stalled = [];
    for (const resume of waiting) resume();
  }

  /** Resolves when the bucket is no longer stalled. */
  unstalled(): Promise<void> {
    if (this.currentFault !== "stalled") return Promise.resolve();
    return new Promise((resolve) => this.stalled.push(resolve));
  }

  /**
   * The bucket is lost and made again (an R1 stream lost with its node's disk, a bucket recreated to move
   * to R3): every entry gone, the sequence back at 0, a new creation time. Watchers start over.
   */
  reset(): void {
    this.entries.clear();
    this.previous.clear();
    this.sequence = 0;
    this.lastWriteAt = undefined;
    this.createdAt = Math.max(this.now(), this.createdAt + 1);
    for (const listener of this.resetListeners) listener();
  }

  onReset(listener: () => void): () => void {
    this.resetListeners.add(listener);
    return () => this.resetListeners.delete(listener);
  }

  get(key: string): KvEntry | undefined {
    this.expire();
    const entry = this.entries.get(key);
    return entry?.operation === "PUT" ? toEntry(entry) : undefined;
  }

  /**
   * The key as a replica one write behind has it (a direct get answered by a follower that has not yet
   * stored the last write), or as it is if the replica has caught up.
   */
  getStale(key: string): KvEntry | undefined {
    this.expire();
    if (!this.previous.has(key)) return this.get(key);
    const entry = this.previous.get(key);
    return entry?.operation === "PUT" ? toEntry(entry) : undefined;
  }

  /** Writes unless `expectedRevision` differs from the key's last revision (0 = must not exist). */
  write(key: string, operation: KvOperation, value: unknown, expectedRevision?: number): number {
    this.expire();
    const last = this.entries.get(key);
    if (expectedRevision !== undefined && (last?.revision ?? 0) !== expectedRevision) {
      throw new KvConflictError(
        this.name,
        key,
        `wrong last sequence: expected ${expectedRevision}, have ${last?.revision ?? 0}`,
      );
    }
    const revision = ++this.sequence;
    this.lastWriteAt = this.now();
    this.previous.set(key, last ?? null);
    const text = operation === "PUT" ? JSON.stringify(value) : "";
    this.entries.set(key, { key, text, revision, createdAt: this.now(), operation });
    const change: KvChange = { key, revision, operation };
    if (operation === "PUT") change.value = decodeJson(text);
    for (const listener of this.listeners) listener(change);
    return revision;
  }

  /** `create` as nats.js does it: expected revision 0, or the revision of a delete marker. */
  create(key: string, value: unknown): number {
    this.expire();
    const last = this.entries.get(key);
    if (last && last.operation === "PUT") {
      throw new KvConflictError(this.name, key, "key exists");
    }
    return this.write(key, "PUT", value, last?.revision ?? 0);
  }

  keys(filter = ">"): string[] {
    this.expire();
    return [...this.entries.values()]
      .filter((entry) => entry.operation === "PUT" && subjectMatches(filter, entry.key))
      .map((entry) => entry.key);
  }

  /** The latest record of each matching key (delete markers too) with a revision above `after`. */
  changesAfter(filter: string, after: number, putsOnly: boolean): KvChange[] {
    this.expire();
    return [...this.entries.values()]
      .filter((entry) => entry.revision > after && subjectMatches(filter, entry.key))
      .filter((entry) => !putsOnly || entry.operation === "PUT")
      .sort((a, b) => a.revision - b.revision)
      .map((entry) => {
        const change: KvChange = { key: entry.key, revision: entry.revision, operation: entry.operation };
        if (entry.operation === "PUT") change.value = decodeJson(entry.text);
        return change;
      });
  }

  onChange(listener: (change: KvChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get lastRevision(): number {
    return this.sequence;
  }

  private expire(): void {
    if (this.ttlMs === undefined || this.ttlMs <= 0) return;
    const cutoff = this.now() - this.ttlMs;
    for (const [key, entry] of this.entries) {
      if (entry.createdAt <= cutoff) this.entries.delete(key);
    }
  }
}

function toEntry(entry: StoredEntry): KvEntry {
  return {
    key: entry.key,
    value: decodeJson(entry.text),
    revision: entry.revision,
    createdAt: entry.createdAt,
  };
}
