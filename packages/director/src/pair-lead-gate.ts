import type { PairHost } from "./pair-host.js";
import type { DesiredPublisher } from "./pair-publisher.js";

export type LeadGateOptions = {
  host: PairHost;
  clock: () => number;
  ttlMs: number;
  /** How long the lease bucket keeps a key (0 unknown): a holder with a longer lease time may use that. */
  bucketKeepsMs: () => number;
  publisher: () => DesiredPublisher | undefined;
};

/**
 * Whether this director may lead: only with a complete, current view of the admin overrides, readable
 * buckets, and record writes that work. A leader whose writes fail past the lease time steps down and
 * holds off for one lease time, so a partner that can publish takes over.
 */
export class LeadGate {
  /** After stepping down because its record writes failed, a director does not lead again before this. */
  private holdOffUntil = Number.NEGATIVE_INFINITY;
  private holdOffReason = "";

  constructor(private readonly options: LeadGateOptions) {}

  /** Why this director may not lead now (undefined: it may): every decision needs all three buckets. */
  cannotLead(unreadable: string | undefined): string | undefined {
    if (!this.options.host.overridesCurrent())
      return "its view of the admin overrides is not complete and current";
    if (unreadable) return unreadable;
    if (this.options.clock() < this.holdOffUntil) return this.holdOffReason;
    return undefined;
  }

  /** Holding the lease means being able to publish: false once writes have failed past the lease time. */
  publishing(): boolean {
    const since = this.options.publisher()?.failingSince;
    return since === undefined || this.options.clock() - since <= this.options.ttlMs;
  }

  /** Its writes failed: it steps down and does not lead again for one lease time. */
  holdOffAfterFailedWrites(): void {
    this.holdOffUntil = this.options.clock() + this.options.ttlMs;
    this.holdOffReason = "it stepped down: its desired record writes failed";
  }

  /** The old lease key vanished early, not by expiry: its holder may believe in it for one more lease time. */
  holdOffAfterLeaseReset(): void {
    this.holdOff("the lease bucket was made again: its old holder may still believe in its key");
  }

  /**
   * First read of a pair that has led before (it has records) with an empty lease key: the key may have
   * gone with a lease bucket made again just before this process started, which it cannot tell from an
   * expired key, while the old holder still believes in it for up to one lease time. Waiting that long is
   * safe either way.
   */
  holdOffAtFirstSight(): void {
    this.holdOff("it has not watched the lease for a lease time yet, and the pair has led before");
  }

  /**
   * One lease time, or the lease bucket's max age where that is longer: during a rolling change to a
   * shorter leaseTtl the old holder may still run the longer one, and the bucket keeps its key that long.
   */
  private holdOff(reason: string): void {
    const until = this.options.clock() + Math.max(this.options.ttlMs, this.options.bucketKeepsMs());
    if (until <= this.holdOffUntil) return;
    this.holdOffUntil = until;
    this.holdOffReason = reason;
  }
}
