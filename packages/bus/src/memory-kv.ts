import { KvConflictError } from "./errors.js";
import { decodeJson } from "./inbound.js";
import { subjectMatches } from "./subject-match.js";
import type { KvBucketOptions, KvChange, KvEntry, KvOperation } from "./types.js";

type StoredEntry = { key: string; text: string; revision: number; createdAt: number; operation: KvOperation };

/**
 * One in-process bucket with JetStream KV semantics as nats-server 2.9 has them: a bucket-wide revision
 * sequence, compare-and-set on the key's last revision (delete markers included), and a bucket max age
 * that removes entries silently (no event), applied lazily against the injected clock.
 */
export class MemoryBucket {
  private sequence = 0;
  private readonly entries = new Map<string, StoredEntry>();
  private readonly listeners = new Set<(change: KvChange) => void>();
  ttlMs: number | undefined;
  history: number;

  constructor(
    readonly name: string,
    options: KvBucketOptions,
    private readonly now: () => number,
  ) {
    this.ttlMs = options.ttlMs;
    this.history = options.history ?? 1;
  }

  get(key: string): KvEntry | undefined {
    this.expire();
    const entry = this.entries.get(key);
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
