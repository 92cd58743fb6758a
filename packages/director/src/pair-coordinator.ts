import type { Bus, KvChange, Lease } from "@lvsq/bus";
import { every, type Logger } from "@lvsq/runtime";
import type { PairHost } from "./pair-host.js";
import { LeaderRecords } from "./pair-records.js";
import { PairStore } from "./pair-store.js";

export type PairRole = "leader" | "follower" | "isolated";

export type PairOptions = {
  bus: Bus;
  directorId: string;
  pair: string;
  cluster: string;
  ttlMs: number;
  logger: Logger;
  host: PairHost;
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
 * leader's word (isolated, or no record) the kernel table stays as it is.
 */
export class PairCoordinator {
  private currentRole: PairRole = "isolated";
  private term: number | undefined;
  private leaderId: string | null = null;
  private recovered = false;
  private readThisRound = false;
  private polling: Promise<void> | undefined;
  private refreshing: Promise<void> | undefined;
  private lastRefreshAt = Number.NEGATIVE_INFINITY;
  private roundStartedAt = 0;
  /** After stepping down because its record writes failed, a director does not lead again before this. */
  private holdOffUntil = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private timer: { stop(): void } | undefined;
  private readonly store: PairStore;
  readonly records: LeaderRecords;
  readonly counts = { olderEpochIgnored: 0, recordsWritten: 0, takeovers: 0 };

  constructor(private readonly options: PairOptions) {
    this.records = new LeaderRecords(options.cluster, options.pair);
    this.store = new PairStore({
      ...options,
      publisher: {
        build: (service) => (this.mayDecide() ? this.options.host.record(service, this.term!) : undefined),
        deposed: (epoch, leader) => this.deposed(epoch, leader),
        written: () => this.counts.recordsWritten++,
      },
      onChange: (change) => this.onChange(change),
    });
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
      this.isolate("a lease round has not finished within the lease time (JetStream stalled)");
  }

  /** The leader's engine changed these services: write their records. */
  published(services: Iterable<string>): void {
    if (this.mayDecide()) this.publisher?.mark(services);
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
    if (!bus.isConnected()) return this.isolate("not connected to NATS");
    this.readThisRound = false;
    try {
      await this.store.open();
      if (!this.recovered) await this.recover();
    } catch (error) {
      return this.isolate(`KV unavailable: ${message(error)}`);
    }
    let unreadable: string | undefined;
    try {
      const restarted = await this.store.restarted();
      if (restarted.length > 0) await this.restarted(restarted);
    } catch (error) {
      unreadable = `the pair's buckets are not readable: ${message(error)}`;
    }
    const lease = this.lease!;
    if (this.currentRole === "leader") {
      const why = this.cannotLead(unreadable);
      if (why) await this.stepDown(why);
      else {
        let renewed: boolean;
        try {
          renewed = await lease.renew();
        } catch (error) {
          if (!lease.isHeld()) this.isolate(`lease renewal failed: ${message(error)}`);
          return;
        }
        if (!renewed) this.loseLease("renewal refused: the lease lapsed or another director took it");
        else if (!this.publishing()) {
          this.holdOffUntil = this.options.clock() + this.options.ttlMs;
          await this.stepDown("its desired record writes have failed for longer than the lease time");
        } else {
          this.publisher!.retryFailed();
          return;
        }
      }
    }
    const why = this.cannotLead(unreadable);
    if (why) return this.followWithoutLeading(why);
    let result: Awaited<ReturnType<Lease["acquire"]>>;
    try {
      // Above every term seen: epochs keep growing even when the lease bucket's sequence restarted.
      result = await lease.acquire(this.records.nextTermFloor);
    } catch (error) {
      return this.isolate(`lease unavailable: ${message(error)}`);
    }
    if (result.acquired) await this.becomeLeader(result.epoch);
    else await this.becomeFollower(result.holder, result.epoch);
    if (this.currentRole === "follower") await this.refreshIfDue();
  }

  /** Why this director may not lead now (undefined: it may): every decision needs all three buckets. */
  private cannotLead(unreadable: string | undefined): string | undefined {
    if (!this.options.host.overridesCurrent())
      return "its view of the admin overrides is not complete and current";
    if (unreadable) return unreadable;
    if (this.options.clock() < this.holdOffUntil) return "it stepped down: its desired record writes failed";
    return undefined;
  }

  /** Holding the lease means being able to publish: false once writes have failed past the lease time. */
  private publishing(): boolean {
    const since = this.publisher?.failingSince;
    return since === undefined || this.options.clock() - since <= this.options.ttlMs;
  }

  /** Leaves the lead and releases the lease, so a partner that can decide takes over at its next round. */
  private async stepDown(reason: string): Promise<void> {
    this.options.logger.warn({ op: "step-down", epoch: this.term, reason }, "pair: stepping down");
    this.loseLease(reason);
    await this.lease?.release().catch(() => {});
  }

  /** Follows whoever holds the lease (or nobody) without trying to take it. */
  private async followWithoutLeading(reason: string): Promise<void> {
    let held: Awaited<ReturnType<Lease["read"]>>;
    try {
      held = await this.lease!.read();
    } catch (error) {
      return this.isolate(`lease unavailable: ${message(error)}`);
    }
    this.options.logger.debug({ reason }, "pair: not trying to take the lease");
    await this.becomeFollower(held?.holder, held?.epoch);
    await this.refreshIfDue();
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
    this.records.restart(epoch, buckets.includes("desired"));
    // The old lease key vanished early, not by expiry: its holder may believe in it for one more lease time.
    if (buckets.includes("leases") && this.currentRole !== "leader")
      this.holdOffUntil = Math.max(this.holdOffUntil, this.options.clock() + this.options.ttlMs);
    if (buckets.includes("desired")) this.publisher!.forgetRevisions();
    this.lastRefreshAt = Number.NEGATIVE_INFINITY;
    if (this.mayDecide()) this.publisher!.mark(Object.keys(host.config().services));
  }

  /**
   * A follower's only feed is its KV watch, and a watch can die without a word (its ordered consumer lived
   * on a JetStream node that went away, and the client notices only after missed heartbeats, if at all). So
   * a follower also re-reads every record of its pair every `refreshMs`: it converges within that time of
   * any leader write, watch or no watch. Off the lease round (a stalled read must not stall the lease),
   * except in simulations, which drive every step themselves.
   */
  private async refreshIfDue(): Promise<void> {
    const { now, ttlMs, refreshMs, pollMs } = this.options;
    if (now() - this.lastRefreshAt < (refreshMs ?? Math.max(1000, ttlMs))) return;
    this.lastRefreshAt = now();
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    if (pollMs === "manual") await this.refreshing;
  }

  private async refresh(): Promise<void> {
    let fresh = 0;
    try {
      for (const entry of await this.store.records()) {
        this.publisher?.noteRevision(entry.key, entry.revision);
        if (typeof this.records.accept(entry.value, entry.revision, this.options.host.config()) !== "string")
          fresh++;
      }
    } catch (error) {
      this.options.logger.debug(
        { err: message(error) },
        "pair: periodic re-read of the desired records failed",
      );
      return;
    }
    if (fresh === 0 || this.currentRole !== "follower" || !this.recovered || this.stopped) return;
    this.options.logger.warn(
      { op: "refresh", records: fresh, epoch: this.records.maxEpoch },
      "pair: the periodic re-read found records the watch did not deliver; applying them",
    );
    this.applyRecords();
  }

  /** Reads every record of the pair, and the lease's term; on the first call the host adopts them. */
  private async recover(): Promise<void> {
    // The lease first: a record older than the current term (a late, unfenced write) is not recovered.
    const held = await this.lease!.read();
    if (held) {
      this.records.noteEpoch(held.epoch);
      this.leaderId = held.holder || null;
    }
    for (const entry of await this.store.records()) {
      this.publisher!.noteRevision(entry.key, entry.revision);
      this.take(entry.value, entry.revision, false);
    }
    this.readThisRound = true;
    if (this.recovered) return;
    const { host, logger } = this.options;
    host.adopt(this.records.compose(host.kernel(), host.config()));
    this.recovered = true;
    logger.info(
      { op: "recover", records: this.records.size, epoch: this.records.maxEpoch, leader: this.leaderId },
      "recovered the pair's last desired tables from KV",
    );
  }

  private onChange(change: KvChange): void {
    this.publisher?.noteRevision(change.key, change.revision, change.operation !== "PUT");
    if (change.operation === "PUT") this.take(change.value, change.revision, true);
  }

  private take(value: unknown, revision: number, apply: boolean): void {
    const { host, logger, directorId } = this.options;
    const outcome = this.records.accept(value, revision, host.config());
    if (typeof outcome === "string") {
      if (outcome === "older-epoch") {
        this.counts.olderEpochIgnored++;
        logger.debug(
          { revision, epoch: this.records.maxEpoch },
          "ignored a desired record of an older epoch",
        );
        // The leader overwrites an older term's record that landed late, so KV holds this term's tables; never
        // one of its own term (that would be a write loop: its own record, refused, rewritten, refused...).
        const { service, epoch } = (value ?? {}) as { service?: unknown; epoch?: unknown };
        const older = typeof epoch === "number" && epoch < (this.term ?? 0);
        if (this.mayDecide() && older && typeof service === "string") this.publisher?.mark([service]);
      }
      return;
    }
    // By epoch, not by name: another incarnation of this same director id may hold a newer term.
    if (outcome.epoch > (this.term ?? 0) && this.currentRole === "leader") {
      this.deposed(outcome.epoch, outcome.leader);
    }
    if (outcome.leader !== directorId) this.leaderId = outcome.leader;
    if (apply && this.currentRole === "follower" && this.recovered) this.applyRecords();
  }

  private applyRecords(): void {
    const { host } = this.options;
    if (this.records.size === 0) return;
    host.follow(this.records.compose(host.kernel(), host.config()), this.records.recordsEpoch);
  }

  private async becomeLeader(epoch: number): Promise<void> {
    const { host, pair, directorId, logger } = this.options;
    const previousLeader = this.leaderId;
    const previousEpoch = this.records.maxEpoch || null;
    this.term = epoch;
    this.records.noteEpoch(epoch);
    this.currentRole = "leader";
    this.leaderId = directorId;
    this.counts.takeovers++;
    const services = Object.keys(host.config().services);
    const changedAtTakeover = this.records.differing(services, (service) => host.decision(service));
    host.lead(epoch);
    host.emit({
      type: "leader-changed",
      service: "*",
      pair,
      epoch,
      leader: directorId,
      previousLeader: previousLeader === directorId && previousEpoch === null ? null : previousLeader,
      previousEpoch,
      changedAtTakeover,
    });
    logger.info({ epoch, pair, services: services.length }, "took the lease: writing every service's record");
    this.publisher!.mark(services);
  }

  private async becomeFollower(holder: string | undefined, epoch: number | undefined): Promise<void> {
    const { host, pair, logger } = this.options;
    const previous = this.currentRole;
    if (epoch !== undefined) this.records.noteEpoch(epoch);
    if (holder) this.leaderId = holder;
    if (previous === "follower") return;
    this.currentRole = "follower";
    this.term = undefined;
    this.publisher!.clear();
    // Whatever the watch missed while we were away or leading, read it all again before applying.
    try {
      if (!this.readThisRound) await this.recover();
    } catch (error) {
      logger.warn({ err: message(error) }, "pair: cannot re-read the desired records; applying what we have");
    }
    if (previous === "isolated")
      host.emit({
        type: "rejoined",
        service: "*",
        pair,
        leader: this.leaderId,
        epoch: this.records.maxEpoch,
      });
    this.applyRecords();
  }

  private loseLease(reason: string): void {
    const { host, pair } = this.options;
    if (this.currentRole !== "leader") return;
    host.emit({ type: "lease-lost", service: "*", pair, epoch: this.term ?? 0, reason });
    this.currentRole = "follower";
    this.term = undefined;
    this.publisher?.clear();
  }

  private deposed(epoch: number, leader: string): void {
    this.records.noteEpoch(epoch);
    this.leaderId = leader;
    this.loseLease(`${leader} holds a newer epoch (${epoch})`);
    this.applyRecords();
  }

  private isolate(reason: string): void {
    if (this.currentRole === "isolated") return;
    const { host, pair } = this.options;
    this.currentRole = "isolated";
    this.term = undefined;
    this.publisher?.clear();
    host.emit({ type: "isolated", service: "*", pair, reason, epoch: this.records.maxEpoch });
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
