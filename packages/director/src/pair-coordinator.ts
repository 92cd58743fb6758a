import type { Bus, Lease } from "@lvsq/bus";
import { every, type Logger } from "@lvsq/runtime";
import type { PairHost } from "./pair-host.js";
import { LeadGate } from "./pair-lead-gate.js";
import { message, RecordIntake } from "./pair-record-intake.js";
import { LeaderRecords } from "./pair-records.js";
import { type PairRole, PairRoles } from "./pair-roles.js";
import { PairStore } from "./pair-store.js";

export type { PairRole } from "./pair-roles.js";

export type PairOptions = {
  bus: Bus;
  directorId: string;
  pair: string;
  cluster: string;
  ttlMs: number;
  logger: Logger;
  host: PairHost;
  /** Wall clock (it may step): only for what other hosts read (the lease record's renewedAt). */
  now: () => number;
  /** Monotonic clock (ms) for the lease deadline, round ages and write-failure deadlines. */
  clock: () => number;
  /** This process's lease incarnation (default a random UUID). */
  incarnation?: string;
  /** Lease round period; "manual" = the caller drives `poll()` (simulations). Default ttl/6, 50-1000 ms. */
  pollMs?: number | "manual";
  /** A follower re-reads every record of the pair this often, whatever its watch says. Default: the lease time (at least 1 s). */
  refreshMs?: number;
};

/**
 * One director's side of a pair: the lease loop (leader renews by compare-and-set, others try to create it
 * every round, since nats-server 2.9 sends no event when a key expires), the leader's desired-record
 * publisher, the follower's view of the leader's records, recovery on start, and isolation. States:
 *
 *   isolated --(connected, KV read, lease created)--> leader --(renew refused / newer record)--> follower
 *   isolated --(connected, KV read, lease held by X)--> follower --(lease lapsed, created)--> leader
 *   any --(NATS lost, or renew outcome unknown past the local lease deadline)--> isolated (table kept)
 *
 * Invariants: a leader writes only while its lease is held by the local clock, each record by CAS on the
 * key's revision; a follower never takes a record older than the newest epoch it has seen; without a
 * leader's word (isolated, or no record) the kernel table stays as it is. Records come in through
 * pair-record-intake.ts; whether this director may lead at all is pair-lead-gate.ts's call.
 */
export class PairCoordinator {
  private readonly roles: PairRoles;
  private polling: Promise<void> | undefined;
  private roundStartedAt = 0;
  private stopped = false;
  private timer: { stop(): void } | undefined;
  private readonly store: PairStore;
  private readonly intake: RecordIntake;
  private readonly gate: LeadGate;
  /** The desired bucket was made again while no lease was held: its epochs start over at the next holder's. */
  private epochsStartOverAtNextHolder = false;
  /** Services the engine changed while this leader could not decide; they go out once it can again. */
  private readonly withheldServices = new Set<string>();
  readonly records: LeaderRecords;
  readonly counts = { olderEpochIgnored: 0, recordsWritten: 0, takeovers: 0, removalsHeldBack: 0 };

  constructor(private readonly options: PairOptions) {
    this.records = new LeaderRecords(options.cluster, options.pair);
    this.store = new PairStore({
      ...options,
      publisher: {
        build: (service) => (this.mayDecide() ? this.options.host.record(service, this.term!) : undefined),
        deposed: (epoch, leader) => this.roles.deposed(epoch, leader),
        written: () => this.counts.recordsWritten++,
      },
      onLeaseRevision: (revision) => this.records.noteLeaseRevision(revision),
      onChange: (change) => this.intake.onChange(change),
    });
    this.intake = new RecordIntake({
      ...options,
      store: this.store,
      records: this.records,
      counts: this.counts,
      side: {
        leading: () => this.currentRole === "leader",
        following: () => this.currentRole === "follower",
        stopped: () => this.stopped,
        term: () => this.term,
        mayDecide: () => this.mayDecide(),
        deposed: (epoch, leader) => this.roles.deposed(epoch, leader),
        leader: () => this.leaderId,
        noteLeader: (leader) => (this.roles.leaderId = leader),
      },
    });
    this.gate = new LeadGate({
      ...options,
      bucketKeepsMs: () => this.store.leasesKeptMs,
      publisher: () => this.publisher,
    });
    this.roles = new PairRoles({
      ...options,
      records: this.records,
      counts: this.counts,
      intake: () => this.intake,
      publisher: () => this.publisher,
    });
  }

  private get currentRole(): PairRole {
    return this.roles.role;
  }

  private get term(): number | undefined {
    return this.roles.term;
  }

  private get leaderId(): string | null {
    return this.roles.leaderId;
  }

  private get lease(): Lease | undefined {
    return this.store.lease;
  }

  private get publisher() {
    return this.store.publisher;
  }

  get role(): PairRole {
    return this.currentRole;
  }

  /** The term this director knows: its own while leading, else the newest seen (lease or records). */
  get epoch(): number {
    return this.currentRole === "leader" ? (this.term ?? 0) : this.records.maxEpoch;
  }

  get leader(): string | null {
    return this.leaderId;
  }

  /** Who decided the table this director applies for a service: itself when leading, else the leader. */
  decidedBy(service: string): { director: string; epoch: number; leader: boolean } {
    const self = this.options.directorId;
    if (this.currentRole === "leader") return { director: self, epoch: this.term ?? 0, leader: true };
    const record = this.records.record(service);
    return {
      director: record?.leader ?? this.leaderId ?? self,
      epoch: record?.epoch ?? this.records.maxEpoch,
      leader: false,
    };
  }

  /** When this director took a service's current record from its leader, by its engine's clock. */
  recordTakenAt(service: string): number | undefined {
    return this.intake.recordTakenAt(service);
  }

  /** True only while leading with the lease held by the local clock: the one state that may decide. */
  mayDecide(): boolean {
    return (
      this.currentRole === "leader" &&
      this.lease?.isHeld() === true &&
      this.options.bus.isConnected() &&
      this.options.host.overridesCurrent()
    );
  }

  /** Runs the first round (recovery and the first lease attempt), then the periodic rounds. */
  async start(): Promise<void> {
    await this.poll();
    const { pollMs, ttlMs, logger } = this.options;
    if (pollMs === "manual") return;
    const period = pollMs ?? Math.min(1000, Math.max(50, Math.floor(ttlMs / 6)));
    // The timer does not wait for a round: a round stalled in JetStream must not stop the clock that notices it.
    this.timer = every(period, () => {
      this.checkStalled();
      this.poll().catch((error) => logger.error({ err: error }, "pair: lease round failed"));
    });
  }

  /** One lease round; concurrent calls share the round in flight. */
  poll(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (!this.polling) {
      this.roundStartedAt = this.options.clock();
      this.polling = this.round().finally(() => (this.polling = undefined));
    }
    return this.polling;
  }

  /** A round in flight for longer than the lease time: the lease cannot be confirmed, so stop deciding. */
  private checkStalled(): void {
    if (this.polling && this.options.clock() - this.roundStartedAt > this.options.ttlMs)
      this.roles.isolate("a lease round has not finished within the lease time (JetStream stalled)");
  }

  /** The leader's engine changed these services: write their records. */
  published(services: Iterable<string>): void {
    if (this.mayDecide()) this.publisher?.mark(services);
  }

  /**
   * The engine changed these services while this director could not decide (its lease not confirmed by
   * the local clock between a renewal whose reply was lost and the next one, its view of the overrides
   * not current). A leader keeps them: nothing else would bring those decisions to its kernel and its
   * records, since the engine reports a change once. A follower needs nothing: a takeover writes all.
   */
  withheld(services: Iterable<string>): void {
    if (this.currentRole === "leader") for (const service of services) this.withheldServices.add(service);
  }

  /** After each engine step: a follower holding a record back weighs it again (follower-hold.ts). */
  stepped(): void {
    if (this.currentRole === "follower" && this.intake.holdsBack) this.intake.applyRecords();
  }

  /** A leader that can decide again applies its current table and writes the records it withheld. */
  private releaseWithheld(): void {
    if (this.currentRole !== "leader") this.withheldServices.clear();
    if (this.withheldServices.size === 0 || !this.mayDecide()) return;
    const services = [...this.withheldServices];
    this.withheldServices.clear();
    this.options.logger.info(
      { op: "catch-up", epoch: this.term, services },
      "pair: applying and publishing the decisions made while this leader could not decide",
    );
    this.options.host.lead(this.term!);
    this.publisher?.mark(services);
  }

  /** Stops the rounds; a leader releases the lease so its partner takes over at once (clean stop only). */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.timer?.stop();
    await this.polling;
    this.store.stopWatch();
    await this.publisher?.idle();
    if (options.release !== false && this.currentRole === "leader") {
      await this.lease?.release().catch(() => {});
    }
  }

  /** Waits for pending record writes (tests, bench). */
  async idle(): Promise<void> {
    await this.polling;
    await this.publisher?.idle();
  }

  private async round(): Promise<void> {
    const { bus } = this.options;
    if (!bus.isConnected()) return this.roles.isolate("not connected to NATS");
    this.intake.readThisRound = false;
    let emptyAtFirstSight = false;
    try {
      await this.store.open();
      if (!this.intake.recovered) {
        // A held key pins the lease bucket's identity from now on (a later reset is noticed); an empty
        // one of a pair that has led may be a bucket made again just before this process started.
        const held = await this.intake.recover();
        if (!held) emptyAtFirstSight = true;
      }
    } catch (error) {
      return this.roles.isolate(`KV unavailable: ${message(error)}`);
    }
    let unreadable: string | undefined;
    try {
      const restarted = await this.store.restarted();
      if (restarted.length > 0) await this.restarted(restarted);
    } catch (error) {
      unreadable = `the pair's buckets are not readable: ${message(error)}`;
    }
    if (emptyAtFirstSight && this.mayHaveJustLostItsLeaseBucket()) this.gate.holdOffAtFirstSight();
    const lease = this.lease!;
    if (this.currentRole === "leader") {
      const why = this.gate.cannotLead(unreadable);
      if (why) await this.stepDown(why);
      else {
        let renewed: boolean;
        try {
          renewed = await lease.renew();
        } catch (error) {
          if (!lease.isHeld()) this.roles.isolate(`lease renewal failed: ${message(error)}`);
          return;
        }
        if (!renewed) this.roles.loseLease("renewal refused: the lease lapsed or another director took it");
        else if (!this.gate.publishing()) {
          this.gate.holdOffAfterFailedWrites();
          await this.stepDown("its desired record writes have failed for longer than the lease time");
        } else {
          this.releaseWithheld();
          this.publisher!.retryFailed();
          await this.intake.refreshIfDue();
          return;
        }
      }
    }
    const why = this.gate.cannotLead(unreadable);
    if (why) return this.followWithoutLeading(why);
    let result: Awaited<ReturnType<Lease["acquire"]>>;
    try {
      // An empty key: read every record of the pair first, so the term taken is above every term recorded
      // (in a lease bucket made again, revisions restart low; a taker that never saw the term before its
      // own would otherwise take the same epoch).
      const current = await lease.read();
      if (current === undefined) await this.intake.recover();
      else this.sawHolder(current.epoch);
      // Above every term seen: epochs keep growing even when the lease bucket's sequence restarted.
      result = await lease.acquire(this.records.nextTermFloor);
    } catch (error) {
      return this.roles.isolate(`lease unavailable: ${message(error)}`);
    }
    // A takeover applies and writes every service: nothing withheld before it is owed.
    this.withheldServices.clear();
    if (result.acquired) await this.roles.becomeLeader(result.epoch);
    else await this.roles.becomeFollower(result.holder, result.epoch);
    await this.intake.refreshIfDue();
  }

  /** A lease holder in view: after the desired bucket was made again, its epoch is where the pair's start. */
  private sawHolder(epoch: number): void {
    if (!this.epochsStartOverAtNextHolder) return;
    this.epochsStartOverAtNextHolder = false;
    if (epoch >= this.records.maxEpoch) return;
    this.records.restart(epoch);
    this.intake.refreshNow();
  }

  /**
   * An empty lease key at first sight may be a lease bucket made again just before this process started,
   * whose old holder still believes in its key: so when the pair has records (it has led), or when the
   * lease bucket is not known to be older than a lease time (plus a second), as after both buckets were
   * lost together. The age is the server's alone (its newest message against its creation): a director
   * whose clock runs seconds ahead took a bucket just made again for an old one. Only a pair's very first
   * start pays the wait without a reason.
   */
  private mayHaveJustLostItsLeaseBucket(): boolean {
    if (this.records.maxEpoch > 0) return true;
    if (this.store.leasesCreatedAt === undefined) return false;
    return !this.store.leasesKnownOlderThan(this.options.ttlMs + 1000);
  }

  /** Leaves the lead and releases the lease, so a partner that can decide takes over at its next round. */
  private async stepDown(reason: string): Promise<void> {
    this.options.logger.warn({ op: "step-down", epoch: this.term, reason }, "pair: stepping down");
    this.roles.loseLease(reason);
    await this.lease?.release().catch(() => {});
  }

  /** Follows whoever holds the lease (or nobody) without trying to take it. */
  private async followWithoutLeading(reason: string): Promise<void> {
    let held: Awaited<ReturnType<Lease["read"]>>;
    try {
      held = await this.lease!.read();
    } catch (error) {
      return this.roles.isolate(`lease unavailable: ${message(error)}`);
    }
    if (held) this.sawHolder(held.epoch);
    this.options.logger.debug({ reason }, "pair: not trying to take the lease");
    await this.roles.becomeFollower(held?.holder, held?.epoch);
    await this.intake.refreshIfDue();
  }

  /**
   * A bucket's sequence restarted (the stream was lost and made again): the epochs and revisions held
   * belong to the old stream. Forget them (the newest epoch is what the lease says now), re-read at once,
   * and a leader rewrites every record the desired bucket lost.
   */
  private async restarted(buckets: string[]): Promise<void> {
    const { logger, host } = this.options;
    const held = await this.lease!.read();
    const epoch = Math.max(held?.epoch ?? 0, this.currentRole === "leader" ? (this.term ?? 0) : 0);
    logger.warn(
      { op: "bucket-restarted", buckets, epoch },
      "pair: a bucket's sequence restarted; forgetting its revisions",
    );
    // The desired bucket still there: its records' epochs are still the terms that wrote them, and the
    // floor of every new one (a late record of an older term must stay refused). Only a desired bucket
    // made again starts the epochs over from what the lease says; so does a lease bucket made again while
    // the desired bucket has held nothing since it was made again itself (in an earlier round): no record
    // is left that the old epochs protect, and a director taking the lease then starts from 1.
    // With no lease holder yet in view, the old epochs stand until one appears (startOverAtNextHolder): a
    // late record of an older term written in the gap would otherwise pass for the pair's current word.
    const startOver = buckets.includes("desired") || this.records.size === 0;
    this.epochsStartOverAtNextHolder = startOver && held === undefined;
    this.records.restart(startOver && held !== undefined ? epoch : Math.max(epoch, this.records.maxEpoch));
    if (buckets.includes("leases")) {
      // Only a leader whose lease its own clock still vouches for knows that nobody else held the old key
      // (the server keeps a key at least that long). A leader past its deadline (a round missed, a renewal
      // whose reply was lost) may have been succeeded before the reset, by someone who still believes in
      // that key: it holds off like everyone else.
      if (!(this.currentRole === "leader" && this.lease!.isHeld())) this.gate.holdOffAfterLeaseReset();
      // The key went with the old stream, and its revision means nothing in the new one: take it again.
      this.lease!.forget();
      this.roles.loseLease("the lease bucket was made again");
    }
    if (buckets.includes("desired")) this.publisher!.forgetRevisions();
    this.intake.refreshNow();
    const services = Object.keys(host.config().services);
    if (this.mayDecide()) this.publisher!.mark(services);
    // A leader that cannot decide this round (its lease not yet confirmed again) still owes the new bucket
    // every record: without them a follower starting now recovers nothing and applies nothing.
    else if (buckets.includes("desired")) this.withheld(services);
  }
}
