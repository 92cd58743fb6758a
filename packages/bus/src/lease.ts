import { z } from "zod";
import { isKvConflict } from "./errors.js";
import type { Kv } from "./types.js";

/**
 * The value stored under a lease key. `epoch` is absent in the write that took the lease (its own revision
 * is the epoch) and carried by every renewal after it, so a reader always learns the current term.
 */
export const LeaseRecord = z.object({
  v: z.literal(1),
  holder: z.string(),
  epoch: z.number().int().min(1).optional(),
  renewedAt: z.number(),
  ttlMs: z.number().int().min(1),
});
export type LeaseRecord = z.infer<typeof LeaseRecord>;

/** Who holds a lease now, as read from the bucket. */
export type LeaseInfo = { holder: string; epoch: number; revision: number; renewedAt: number };

export type LeaseAcquireResult =
  | { acquired: true; epoch: number }
  | { acquired: false; holder: string | undefined; epoch: number | undefined };

export interface Lease {
  /**
   * Takes the lease if nobody holds it (`kv.create`; an expired key has vanished from the bucket, since the
   * bucket TTL is the lease TTL), or if the record names this holder (a restart of the same director: it
   * gets a new, higher epoch). Otherwise reports the current holder.
   */
  acquire(): Promise<LeaseAcquireResult>;
  /**
   * Compare-and-set on the last revision. `false` = lost (stale revision: someone else took it, or it
   * expired): stop acting as holder at once. Throws LvsqError `bus_unavailable`/`bus_timeout` when the
   * outcome is unknown: the holder keeps going only while `isHeld()` (local deadline) says so.
   */
  renew(): Promise<boolean>;
  /** Deletes the key if still ours, so a follower can take over without waiting for the TTL. */
  release(): Promise<void>;
  /** The current holder (for followers, which poll: nats-server 2.9 sends no event when a key expires). */
  read(): Promise<LeaseInfo | undefined>;
  /** Held, and the last successful write started less than `ttlMs` ago by the local clock. */
  isHeld(): boolean;
  /** The term: the revision of the write that took the lease. Undefined when not held. */
  readonly epoch: number | undefined;
}

/**
 * A leader lease on one key of a bucket whose TTL (max age) equals `ttlMs`. The epoch is the revision of the
 * acquiring write: revisions are bucket-wide and only grow, so every new term has a higher epoch than any
 * term before it, which is what followers use to ignore an old leader's writes.
 */
export function createLease(
  kv: Kv,
  key: string,
  holder: string,
  ttlMs: number,
  options: { now?: () => number } = {},
): Lease {
  const now = options.now ?? Date.now;
  let revision: number | undefined;
  let epoch: number | undefined;
  let heldUntil = 0;

  const lose = () => {
    revision = undefined;
    epoch = undefined;
    heldUntil = 0;
  };
  const record = (withEpoch: number | undefined): LeaseRecord => {
    const value: LeaseRecord = { v: 1, holder, renewedAt: now(), ttlMs };
    if (withEpoch !== undefined) value.epoch = withEpoch;
    return value;
  };
  const take = (written: number, startedAt: number): LeaseAcquireResult => {
    revision = written;
    epoch = written;
    heldUntil = startedAt + ttlMs;
    return { acquired: true, epoch: written };
  };

  const read = async (): Promise<LeaseInfo | undefined> => {
    const entry = await kv.get(key);
    if (!entry) return undefined;
    const parsed = LeaseRecord.safeParse(entry.value);
    // A record we cannot read still occupies the key: report it as held by nobody we know, at its revision.
    if (!parsed.success) return { holder: "", epoch: entry.revision, revision: entry.revision, renewedAt: 0 };
    const { holder: current, epoch: term, renewedAt } = parsed.data;
    return { holder: current, epoch: term ?? entry.revision, revision: entry.revision, renewedAt };
  };

  const lease: Lease = {
    get epoch() {
      return epoch;
    },
    isHeld: () => epoch !== undefined && now() < heldUntil,
    read,

    async acquire() {
      const startedAt = now();
      try {
        return take(await kv.create(key, record(undefined)), startedAt);
      } catch (error) {
        if (!isKvConflict(error)) throw error;
      }
      const current = await read();
      if (current === undefined) {
        // Vanished between our create and read (expired or released): one more try, no loop.
        try {
          return take(await kv.create(key, record(undefined)), startedAt);
        } catch (error) {
          if (!isKvConflict(error)) throw error;
          const again = await read();
          return { acquired: false, holder: again?.holder, epoch: again?.epoch };
        }
      }
      if (current.holder === holder) {
        try {
          return take(await kv.update(key, record(undefined), current.revision), startedAt);
        } catch (error) {
          if (!isKvConflict(error)) throw error;
          const again = await read();
          return { acquired: false, holder: again?.holder, epoch: again?.epoch };
        }
      }
      lose();
      return { acquired: false, holder: current.holder, epoch: current.epoch };
    },

    async renew() {
      if (revision === undefined || epoch === undefined) return false;
      const startedAt = now();
      try {
        revision = await kv.update(key, record(epoch), revision);
        heldUntil = startedAt + ttlMs;
        return true;
      } catch (error) {
        if (!isKvConflict(error)) throw error;
        lose();
        return false;
      }
    },

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
