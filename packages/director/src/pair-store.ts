import {
  type Bus,
  createLease,
  type Kv,
  type KvChange,
  type KvEntry,
  type KvStatus,
  type Lease,
} from "@lvsq/bus";
import { buckets } from "@lvsq/protocol";
import type { Logger } from "@lvsq/runtime";
import { DesiredPublisher, type PublisherHooks } from "./pair-publisher.js";

export type PairStoreOptions = {
  bus: Bus;
  cluster: string;
  pair: string;
  directorId: string;
  ttlMs: number;
  now: () => number;
  /** Monotonic clock for the lease deadline. */
  clock: () => number;
  incarnation?: string;
  logger: Logger;
  publisher: PublisherHooks;
  /** The lease bucket's last revision, as each status read finds it. */
  onLeaseRevision: (revision: number) => void;
  /** Every change of a desired record of the pair, as the watch delivers it. */
  onChange: (change: KvChange) => void;
};

/**
 * A pair's two KV buckets as one director sees them: the lease (`lvsq_<cluster>_leases`, key `<pair>`, bucket
 * max age = lease time) and the desired records (`lvsq_<cluster>_desired`, keys `<pair>.<service>`), with
 * the leader's record publisher and a watch on the pair's records. Opened on the first lease round that
 * finds NATS; the coordinator decides what to do with what it reads.
 */
export class PairStore {
  private desired: Kv | undefined;
  private leases: Kv | undefined;
  private opened: { lease: Lease; publisher: DesiredPublisher; stopWatch: () => void } | undefined;
  /** Each bucket's identity as first seen, and the highest desired revision seen (see `restarted`). */
  private readonly identity = new Map<string, number>();
  private leasesStatus: KvStatus | undefined;
  private desiredRevisionSeen = 0;

  constructor(private readonly options: PairStoreOptions) {}

  /** Opens both buckets and starts the watch (once; a failure is retried at the next round). */
  async open(): Promise<void> {
    if (this.desired) return;
    const { bus, cluster, pair, directorId, ttlMs, now, clock, incarnation, logger } = this.options;
    const leases = await bus.kv(buckets.leases(cluster), { ttlMs });
    const desired = await bus.kv(buckets.desired(cluster));
    const lease = createLease(leases, pair, directorId, ttlMs, {
      now,
      clock,
      ...(incarnation !== undefined ? { incarnation } : {}),
    });
    const publisher = new DesiredPublisher(desired, pair, this.options.publisher, logger, clock);
    this.opened = { lease, publisher, stopWatch: () => {} };
    // Watch first, then read: nothing written in between is missed (revisions order the two).
    const watcher = await desired.watch(
      `${pair}.>`,
      (change) => {
        this.noteDesiredRevision(change.revision);
        this.options.onChange(change);
      },
      { updatesOnly: true },
    );
    this.opened.stopWatch = () => watcher.stop();
    this.leases = leases;
    this.desired = desired;
  }

  noteDesiredRevision(revision: number): void {
    if (revision > this.desiredRevisionSeen) this.desiredRevisionSeen = revision;
  }

  /**
   * Reads both buckets' status and names those whose sequence restarted since this director first saw
   * them: a new stream (creation time changed: lost with an R1 node's disk, recreated to move to R3), or a
   * desired sequence below a revision already seen. Revisions of the old stream order nothing in the new
   * one. Throws when a bucket is unreachable: a director that cannot read the desired bucket may not lead.
   */
  async restarted(): Promise<("leases" | "desired")[]> {
    const found: ("leases" | "desired")[] = [];
    // Compared with what was seen before asking: a record the watch delivers while the status is on its
    // way is newer than the answer, and would look like a sequence that went backwards (a false reset).
    const seenBefore = this.desiredRevisionSeen;
    const [leases, desired] = await Promise.all([this.leases!.status(), this.desired!.status()]);
    this.options.onLeaseRevision(leases.lastRevision);
    this.leasesStatus = leases;
    for (const [name, status] of [
      ["leases", leases],
      ["desired", desired],
    ] as const) {
      const known = this.identity.get(name);
      const backwards = name === "desired" && status.lastRevision < seenBefore;
      if ((known !== undefined && known !== status.createdAt) || backwards) found.push(name);
      this.identity.set(name, status.createdAt);
    }
    if (found.includes("desired")) this.desiredRevisionSeen = desired.lastRevision;
    return found;
  }

  /**
   * Whether the lease bucket is known, by the server's clock alone, to be at least `ageMs` old (as
   * `restarted` last read its status): a message stored that long after the stream was made. A director's
   * own clock may be seconds off the server's, and a fast one would take a bucket just made again for an
   * old one.
   */
  leasesKnownOlderThan(ageMs: number): boolean {
    const status = this.leasesStatus;
    return status?.lastWriteAt !== undefined && status.lastWriteAt - status.createdAt >= ageMs;
  }

  /** How long the lease bucket keeps a key (its max age as `restarted` last read it; 0 unknown or none). */
  get leasesKeptMs(): number {
    return this.leasesStatus?.ttlMs ?? 0;
  }

  /** When the lease bucket's stream was made (server time), as `restarted` last read it. */
  get leasesCreatedAt(): number | undefined {
    return this.identity.get("leases");
  }

  /** The lease; undefined until `open` got as far as creating it. */
  get lease(): Lease | undefined {
    return this.opened?.lease;
  }

  /** The leader's record writer; undefined until the buckets were opened. */
  get publisher(): DesiredPublisher | undefined {
    return this.opened?.publisher;
  }

  /** Every record of the pair now in the bucket (read after the lease, see the coordinator's recovery). */
  async records(): Promise<KvEntry[]> {
    const kv = this.desired!;
    const keys = await kv.keys(`${this.options.pair}.>`);
    const entries = await Promise.all(keys.map((key) => kv.get(key, { fromLeader: true })));
    const found = entries.filter((entry): entry is KvEntry => entry !== undefined);
    for (const entry of found) this.noteDesiredRevision(entry.revision);
    return found;
  }

  stopWatch(): void {
    this.opened?.stopWatch();
  }
}
