import { isKvConflict, type Kv } from "@lvsq/bus";
import { DesiredRecord, kvKeys } from "@lvsq/protocol";
import type { Logger } from "@lvsq/runtime";

const CONFLICT_RETRIES = 3;

export type PublisherHooks = {
  /** The record to write for a service now, or undefined when this director may not write (not leader). */
  build(service: string): DesiredRecord | undefined;
  /** A record of a newer term is in the bucket: this director is no longer the leader. */
  deposed(epoch: number, leader: string): void;
  /** A record reached the bucket (for counters and the bench). */
  written?(record: DesiredRecord, revision: number): void;
};

/**
 * The leader's writer of desired records (KV `lvsq_<cluster>_desired`, key `<pair>.<service>`). Each key is
 * written by compare-and-set on the revision last seen for it (from this director's own writes or the
 * watch), so a deposed leader's late write can never overwrite a newer term's record, and a record of a
 * newer term found on conflict deposes this director. Writes are coalesced: services marked while a round
 * is in flight go out in the next round, each built from the newest engine state at write time.
 */
export class DesiredPublisher {
  private readonly dirty = new Set<string>();
  private readonly failed = new Set<string>();
  private readonly revisions = new Map<string, number>();
  private running: Promise<void> | undefined;
  private failingFrom: number | undefined;

  constructor(
    private readonly kv: Kv,
    private readonly pair: string,
    private readonly hooks: PublisherHooks,
    private readonly logger: Logger,
    private readonly clock: () => number,
  ) {}

  /**
   * Since when (monotonic ms) record writes have been failing without one succeeding, or undefined. The
   * leader steps down once this is older than the lease time: holding the lease must mean publishing.
   */
  get failingSince(): number | undefined {
    return this.failingFrom;
  }

  /** The bucket's sequence restarted: the revisions held belong to the old stream. */
  forgetRevisions(): void {
    this.revisions.clear();
  }

  /** The watch saw `key` at `revision` (any director's write): the next compare-and-set expects it. */
  noteRevision(key: string, revision: number, deleted = false): void {
    if (deleted) this.revisions.delete(key);
    else if (revision > (this.revisions.get(key) ?? 0)) this.revisions.set(key, revision);
  }

  mark(services: Iterable<string>): void {
    for (const service of services) this.dirty.add(service);
    if (this.dirty.size > 0 && !this.running)
      this.running = this.drain().finally(() => (this.running = undefined));
  }

  /** Writes that failed for lack of NATS are retried from the lease loop, not in a tight loop. */
  retryFailed(): void {
    if (this.failed.size === 0) return;
    const again = [...this.failed];
    this.failed.clear();
    this.mark(again);
  }

  /** Leadership ended: nothing pending is written. */
  clear(): void {
    this.dirty.clear();
    this.failed.clear();
    this.failingFrom = undefined;
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  get pending(): number {
    return this.dirty.size + this.failed.size;
  }

  private async drain(): Promise<void> {
    while (this.dirty.size > 0) {
      const round = [...this.dirty];
      this.dirty.clear();
      await Promise.all(round.map((service) => this.write(service)));
    }
  }

  private async write(service: string): Promise<void> {
    const key = kvKeys.desired(this.pair, service);
    for (let attempt = 0; attempt <= CONFLICT_RETRIES; attempt++) {
      const record = this.hooks.build(service);
      if (record === undefined) return;
      const expected = this.revisions.get(key);
      try {
        const revision =
          expected === undefined
            ? await this.kv.create(key, record)
            : await this.kv.update(key, record, expected);
        this.noteRevision(key, revision);
        if (this.failed.size === 0) this.failingFrom = undefined;
        this.hooks.written?.(record, revision);
        return;
      } catch (error) {
        if (!isKvConflict(error)) {
          this.failed.add(service);
          this.failingFrom ??= this.clock();
          this.logger.warn(
            { service, epoch: record.epoch, err: error instanceof Error ? error.message : error },
            "cannot write the desired record; retrying on the next lease round",
          );
          return;
        }
      }
      // Someone wrote the key since we last saw it: a newer term deposes us, an older one is overwritten.
      let stored: Awaited<ReturnType<Kv["get"]>>;
      try {
        stored = await this.kv.get(key, { fromLeader: true });
      } catch {
        this.failed.add(service);
        this.failingFrom ??= this.clock();
        return;
      }
      if (stored === undefined) {
        this.revisions.delete(key);
        continue;
      }
      this.revisions.set(key, stored.revision);
      const parsed = DesiredRecord.safeParse(stored.value);
      if (parsed.success && parsed.data.epoch > record.epoch) {
        this.hooks.deposed(parsed.data.epoch, parsed.data.leader);
        return;
      }
    }
    this.failed.add(service);
    this.failingFrom ??= this.clock();
  }
}
