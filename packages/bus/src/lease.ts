import { randomUUID } from "node:crypto";
import { z } from "zod";
import { isKvConflict } from "./errors.js";
import type { Kv } from "./types.js";

/**
 * The value stored under a lease key. `epoch` is absent in the write that took the lease (its epoch is its
 * own revision, raised to `floor`) and carried by every renewal after it, so a reader always learns the
 * current term. `incarnation` tells two processes with one director id apart.
 */
export const LeaseRecord = z.object({
  v: z.literal(1),
  holder: z.string(),
  incarnation: z.string().optional(),
  epoch: z.number().int().min(1).optional(),
  /** The lowest epoch the taking write may have: higher than every term its writer has seen. */
  floor: z.number().int().min(0).optional(),
  renewedAt: z.number(),
  ttlMs: z.number().int().min(1),
});
export type LeaseRecord = z.infer<typeof LeaseRecord>;

/** Who holds a lease now, as read from the bucket. */
export type LeaseInfo = {
  holder: string;
  incarnation: string | undefined;
  epoch: number;
  revision: number;
  renewedAt: number;
};

export type LeaseAcquireResult =
  | { acquired: true; epoch: number }
  | { acquired: false; holder: string | undefined; epoch: number | undefined };

export interface Lease {
  /**
   * Takes the lease if nobody holds it (`kv.create`; an expired key has vanished from the bucket, since the
   * bucket TTL is the lease TTL), or if the record is this very process's (after an isolation: a new,
   * higher epoch). Another process with the same holder id (a restart, a replacement started early) waits
   * for the key to expire like everyone else. The new epoch is at least `floor`: a bucket whose sequence
   * restarted does not send epochs back below the terms its directors have seen.
   */
  acquire(floor?: number): Promise<LeaseAcquireResult>;
  /**
   * Compare-and-set on the last revision. `false` = lost (stale revision: someone else took it, or it
   * expired): stop acting as holder at once. A renewal whose reply was lost but which landed is recognised
   * (the key holds this process's record of this term) and does not lose the lease. Throws LvsqError
   * `bus_unavailable`/`bus_timeout` when the outcome is unknown: the holder keeps going only while
   * `isHeld()` (local deadline) says so.
   */
  renew(): Promise<boolean>;
  /** Deletes the key if still ours, so a follower can take over without waiting for the TTL. */
  release(): Promise<void>;
  /**
   * The bucket was made again: the revision held belongs to the old stream, and the new stream's sequence
   * restarts, so a renewal by it could pass another holder's compare-and-set by a coincidence of numbers.
   * The lease is no longer held; `acquire` takes it again (or finds who holds it now).
   */
  forget(): void;
  /** The current holder (for followers, which poll: nats-server 2.9 sends no event when a key expires). */
  read(): Promise<LeaseInfo | undefined>;
  /**
   * Held, and the last successful write started less than the lease time ago by the monotonic clock; the
   * lease time being the shorter of `ttlMs` and the bucket's actual max age (another director may have set
   * it lower: the key then vanishes sooner, and so must this director's belief that it holds it).
   */
  isHeld(): boolean;
  /** The term: the revision of the write that took the lease (raised to its floor). Undefined when not held. */
  readonly epoch: number | undefined;
  /** This process's incarnation, written with every record. */
  readonly incarnation: string;
  /** The lease time the local deadline uses now, ms. */
  readonly effectiveTtlMs: number;
}

export type LeaseOptions = {
  /** Wall clock for the `renewedAt` field (informational). Default Date.now. */
  now?: () => number;
  /** Monotonic clock for the local deadline (a wall-clock step must not extend it). Default performance.now. */
  clock?: () => number;
  /** Default: a random UUID, one per lease object (one per process). */
  incarnation?: string;
};

/**
 * A leader lease on one key of a bucket whose TTL (max age) is the lease time. Epochs only grow: KV
 * revisions are bucket-wide and only grow within one bucket, and the taking write carries a floor above
 * every term its writer has seen, which survives the bucket being recreated.
 */
export function createLease(
  kv: Kv,
  key: string,
  holder: string,
  ttlMs: number,
  options: LeaseOptions = {},
): Lease {
  const now = options.now ?? Date.now;
  const clock = options.clock ?? (() => performance.now());
  const incarnation = options.incarnation ?? randomUUID();
  let revision: number | undefined;
  let epoch: number | undefined;
  let heldUntil = Number.NEGATIVE_INFINITY;
  let bucketTtlMs = 0;

  const effectiveTtl = () => (bucketTtlMs > 0 ? Math.min(ttlMs, bucketTtlMs) : ttlMs);
  const lose = () => {
    revision = undefined;
    epoch = undefined;
    heldUntil = Number.NEGATIVE_INFINITY;
  };
  const record = (extra: { epoch?: number; floor?: number }): LeaseRecord => ({
    v: 1,
    holder,
    incarnation,
    renewedAt: now(),
    ttlMs,
    ...extra,
  });
  const take = (written: number, floor: number, startedAt: number): LeaseAcquireResult => {
    revision = written;
    epoch = Math.max(written, floor);
    heldUntil = startedAt + effectiveTtl();
    return { acquired: true, epoch };
  };
  /** The max age the server applies now; kept from the last read when the status cannot be read. */
  const readBucketTtl = async () => {
    try {
      bucketTtlMs = (await kv.status()).ttlMs;
    } catch {
      // Unknown for now: the last value read (or ttlMs alone) stands.
    }
  };

  /** A holder whose bucket keeps keys longer than its own lease time lowers it (a rolling leaseTtl change). */
  const lowerBucketTtl = async () => {
    if (bucketTtlMs <= ttlMs) return;
    try {
      await kv.setMaxAge(ttlMs);
      bucketTtlMs = ttlMs;
    } catch {
      // The next renewal tries again; until then a dead holder's key lives the longer age.
    }
  };

  const read = async (): Promise<LeaseInfo | undefined> => {
    // From the stream leader: a lagging replica would show the holder an older revision of its own key.
    const entry = await kv.get(key, { fromLeader: true });
    if (!entry) return undefined;
    const parsed = LeaseRecord.safeParse(entry.value);
    // A record we cannot read still occupies the key: report it as held by nobody we know, at its revision.
    if (!parsed.success)
      return {
        holder: "",
        incarnation: undefined,
        epoch: entry.revision,
        revision: entry.revision,
        renewedAt: 0,
      };
    const { holder: current, epoch: term, floor, renewedAt } = parsed.data;
    return {
      holder: current,
      incarnation: parsed.data.incarnation,
      epoch: term ?? Math.max(entry.revision, floor ?? 0),
      revision: entry.revision,
      renewedAt,
    };
  };
  const mine = (info: LeaseInfo | undefined) => info?.holder === holder && info.incarnation === incarnation;

  const lease: Lease = {
    get epoch() {
      return epoch;
    },
    get effectiveTtlMs() {
      return effectiveTtl();
    },
    incarnation,
    isHeld: () => epoch !== undefined && clock() < heldUntil,
    read,

    async acquire(floor = 0) {
      await readBucketTtl();
      const startedAt = clock();
      try {
        return take(await kv.create(key, record({ floor })), floor, startedAt);
      } catch (error) {
        if (!isKvConflict(error)) throw error;
      }
      const current = await read();
      if (current === undefined) {
        // Vanished between our create and read (expired or released): one more try, no loop.
        try {
          return take(await kv.create(key, record({ floor })), floor, startedAt);
        } catch (error) {
          if (!isKvConflict(error)) throw error;
          const again = await read();
          return { acquired: false, holder: again?.holder, epoch: again?.epoch };
        }
      }
      if (mine(current)) {
        try {
          return take(await kv.update(key, record({ floor }), current.revision), floor, startedAt);
        } catch (error) {
          if (!isKvConflict(error)) throw error;
          const again = await read();
          // Still ours by the read, yet the write conflicted: the holder is not known this round. Never
          // report this process as another holder to follow.
          if (mine(again)) return { acquired: false, holder: undefined, epoch: again?.epoch };
          return { acquired: false, holder: again?.holder, epoch: again?.epoch };
        }
      }
      lose();
      return { acquired: false, holder: current.holder, epoch: current.epoch };
    },

    async renew() {
      if (revision === undefined || epoch === undefined) return false;
      const term = epoch;
      const startedAt = clock();
      const ttlRead = readBucketTtl();
      try {
        revision = await kv.update(key, record({ epoch: term }), revision);
        await ttlRead;
        heldUntil = startedAt + effectiveTtl();
        await lowerBucketTtl();
        return true;
      } catch (error) {
        if (!isKvConflict(error)) throw error;
      }
      // Conflict: either someone else wrote the key, or an earlier renewal of ours timed out but landed.
      const current = await read();
      if (!mine(current) || current?.epoch !== term) {
        lose();
        return false;
      }
      try {
        revision = await kv.update(key, record({ epoch: term }), current.revision);
        await ttlRead;
        heldUntil = startedAt + effectiveTtl();
        await lowerBucketTtl();
        return true;
      } catch (error) {
        if (!isKvConflict(error)) throw error;
        lose();
        return false;
      }
    },

    forget: lose,

    async release() {
      if (revision === undefined) return;
      const last = revision;
      lose();
      try {
        await kv.delete(key, { revision: last });
      } catch (error) {
        if (!isKvConflict(error)) throw error;
      }
    },
  };
  return lease;
}
