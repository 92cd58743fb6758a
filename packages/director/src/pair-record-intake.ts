import type { KvChange } from "@lvsq/bus";
import type { Logger } from "@lvsq/runtime";
import { type HeldBack, holdBackContradicted } from "./follower-hold.js";
import type { PairHost } from "./pair-host.js";
import type { DesiredPublisher } from "./pair-publisher.js";
import type { LeaderRecords } from "./pair-records.js";
import type { PairStore } from "./pair-store.js";

/** What the intake reads of, and tells, the coordinator it feeds. */
export interface IntakeSide {
  leading(): boolean;
  following(): boolean;
  stopped(): boolean;
  /** This director's own term while it leads. */
  term(): number | undefined;
  mayDecide(): boolean;
  deposed(epoch: number, leader: string): void;
  leader(): string | null;
  /** The leader's id as the records or the lease name it. */
  noteLeader(leader: string | null): void;
}

export type RecordIntakeOptions = {
  directorId: string;
  logger: Logger;
  host: PairHost;
  /** Monotonic clock (ms) for the re-read period: a wall clock stepped back must not stop the re-reads. */
  clock: () => number;
  ttlMs: number;
  pollMs?: number | "manual";
  refreshMs?: number;
  store: PairStore;
  records: LeaderRecords;
  side: IntakeSide;
  counts: { olderEpochIgnored: number; removalsHeldBack: number };
};

/**
 * The pair's desired records coming in: the first full read (recovery), every change the watch delivers,
 * and the follower's periodic re-read. Each record passes LeaderRecords' fence (never older than the newest
 * epoch seen); a follower applies what it took.
 */
export class RecordIntake {
  private recoveredOnce = false;
  /** A full read ran in this lease round: a follower made in the same round need not read again. */
  readThisRound = false;
  private refreshing: Promise<void> | undefined;
  private lastRefreshAt = Number.NEGATIVE_INFINITY;
  /** Services whose record this follower holds back (follower-hold.ts), with why and the servers kept. */
  private readonly holding = new Map<string, string>();
  /** When this director took each service's current record (its engine's clock, for follower-hold.ts). */
  private readonly takenAt = new Map<string, number>();
  /**
   * Since when (monotonic) a service has been held awaiting votes newer than its record, per record taken
   * (`takenAt`): one wait per record, so a wait that ran out does not start again under the same record.
   */
  private readonly awaiting = new Map<string, { since: number; takenAt: number | undefined }>();
  /** Per service, the servers newer votes showed up under the record taken at `takenAt` (follower-hold.ts). */
  private readonly proven = new Map<string, { takenAt: number; rs: Set<string> }>();

  constructor(private readonly options: RecordIntakeOptions) {}

  private get publisher(): DesiredPublisher | undefined {
    return this.options.store.publisher;
  }

  get recovered(): boolean {
    return this.recoveredOnce;
  }

  /** The next round re-reads every record, due or not (a bucket restarted). */
  refreshNow(): void {
    this.lastRefreshAt = Number.NEGATIVE_INFINITY;
  }

  /**
   * A follower's only feed is its KV watch, and a watch can die without a word (its ordered consumer lived
   * on a JetStream node that went away, and the client notices only after missed heartbeats, if at all). So
   * a follower also re-reads every record of its pair every `refreshMs`: it converges within that time of
   * any leader write, watch or no watch. The leader re-reads too: a late record of an older term that its
   * dead watch did not show would otherwise stay in KV, and a director starting then would recover nothing. Off the lease round (a stalled read must not stall the lease),
   * except in simulations, which drive every step themselves.
   */
  async refreshIfDue(): Promise<void> {
    const { clock, ttlMs, refreshMs, pollMs } = this.options;
    if (clock() - this.lastRefreshAt < (refreshMs ?? Math.max(1000, ttlMs))) return;
    this.lastRefreshAt = clock();
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    if (pollMs === "manual") await this.refreshing;
  }

  private async refresh(): Promise<void> {
    const { records, side } = this.options;
    let fresh = 0;
    try {
      for (const entry of await this.options.store.records()) {
        this.publisher?.noteRevision(entry.key, entry.revision);
        const outcome = records.accept(entry.value, entry.revision, this.options.host.config());
        if (outcome === "older-epoch") this.rewriteIfOlder(entry.value);
        else if (typeof outcome !== "string") {
          this.takenAt.set(outcome.service, this.options.host.now());
          fresh++;
        }
      }
    } catch (error) {
      this.options.logger.debug(
        { err: message(error) },
        "pair: periodic re-read of the desired records failed",
      );
      return;
    }
    if (fresh === 0 || !side.following() || !this.recoveredOnce || side.stopped()) return;
    this.options.logger.warn(
      { op: "refresh", records: fresh, epoch: records.maxEpoch },
      "pair: the periodic re-read found records the watch did not deliver; applying them",
    );
    this.applyRecords();
  }

  /**
   * Reads every record of the pair, and the lease's term; on the first call the host adopts them. Returns
   * whether the lease key was held.
   */
  async recover(): Promise<boolean> {
    const { records, side, store } = this.options;
    // The lease first: a record older than the current term (a late, unfenced write) is not recovered.
    const held = await store.lease!.read();
    if (held) {
      records.noteEpoch(held.epoch);
      side.noteLeader(held.holder || null);
    }
    for (const entry of await store.records()) {
      this.publisher!.noteRevision(entry.key, entry.revision);
      this.take(entry.value, entry.revision, false);
    }
    this.readThisRound = true;
    if (this.recoveredOnce) return held !== undefined;
    const { host, logger } = this.options;
    host.adopt(records.compose(host.kernel(), host.config()));
    this.recoveredOnce = true;
    logger.info(
      { op: "recover", records: records.size, epoch: records.maxEpoch, leader: side.leader() },
      "recovered the pair's last desired tables from KV",
    );
    return held !== undefined;
  }

  onChange(change: KvChange): void {
    this.publisher?.noteRevision(change.key, change.revision, change.operation !== "PUT");
    if (change.operation === "PUT") this.take(change.value, change.revision, true);
  }

  private take(value: unknown, revision: number, apply: boolean): void {
    const { host, logger, directorId, records, side } = this.options;
    const outcome = records.accept(value, revision, host.config());
    if (typeof outcome === "string") {
      if (outcome === "older-epoch") {
        this.options.counts.olderEpochIgnored++;
        logger.debug({ revision, epoch: records.maxEpoch }, "ignored a desired record of an older epoch");
        this.rewriteIfOlder(value);
      }
      return;
    }
    this.takenAt.set(outcome.service, host.now());
    // By epoch, not by name: another incarnation of this same director id may hold a newer term.
    if (outcome.epoch > (side.term() ?? 0) && side.leading()) side.deposed(outcome.epoch, outcome.leader);
    if (outcome.leader !== directorId) side.noteLeader(outcome.leader);
    if (apply && side.following() && this.recoveredOnce) this.applyRecords();
  }

  /**
   * The leader overwrites an older term's record that landed late, so KV holds this term's tables; never
   * one of its own term (that would be a write loop: its own record, refused, rewritten, refused...).
   */
  private rewriteIfOlder(value: unknown): void {
    const { side } = this.options;
    const { service, epoch } = (value ?? {}) as { service?: unknown; epoch?: unknown };
    const older = typeof epoch === "number" && epoch < (side.term() ?? 0);
    if (side.mayDecide() && older && typeof service === "string") this.publisher?.mark([service]);
  }

  /** When this director took a service's current record, by its engine's clock. */
  recordTakenAt(service: string): number | undefined {
    return this.takenAt.get(service);
  }

  /** A follower holds a leader's record back for some service: each engine step re-applies. */
  get holdsBack(): boolean {
    return this.holding.size > 0;
  }

  /**
   * A follower puts the leader's recorded tables in the kernel, except where a record takes out, for
   * health, a server that its own votes have up (follower-hold.ts).
   */
  applyRecords(): void {
    const { host, records, clock } = this.options;
    if (records.size === 0) return;
    const kernel = host.kernel();
    const config = host.config();
    const composed = records.compose(kernel, config);
    const weighed = holdBackContradicted({
      composed,
      kernel,
      config,
      takenAt: (service) => this.takenAt.get(service),
      evidenceSince: (service, since) => host.evidenceSince(service, since),
      decision: (service) => host.decision(service),
      recordRules: (service) => new Map((records.record(service)?.reasons ?? []).map((r) => [r.rs, r.rule])),
      now: clock(),
      provenStale: (service) => this.provenStale(service),
      awaitingSince: (service) => this.awaitingSince(service),
      awaitMs: config.quorum.voteTtlMs,
    });
    this.noteProven(weighed.held);
    this.noteHeld(weighed.held);
    host.follow(weighed.table, records.recordsEpoch);
  }

  /** What newer votes disproved stays disproved under the same record. */
  private noteProven(held: HeldBack[]): void {
    this.proven.clear();
    for (const { service, rs, why } of held)
      if (why === "newer-votes-up")
        this.proven.set(service, { takenAt: this.takenAt.get(service)!, rs: new Set(rs) });
  }

  private awaitingSince(service: string): number | undefined {
    const waited = this.awaiting.get(service);
    return waited !== undefined && waited.takenAt === this.takenAt.get(service) ? waited.since : undefined;
  }

  private provenStale(service: string): ReadonlySet<string> {
    const proven = this.proven.get(service);
    return proven !== undefined && proven.takenAt === this.takenAt.get(service) ? proven.rs : new Set();
  }

  private noteHeld(held: HeldBack[]): void {
    const { logger, records, clock } = this.options;
    const now = new Map(held.map((h) => [h.service, `${h.why} ${h.rs.join(",")}`]));
    for (const { service, rs, why } of held) {
      if (why === "awaiting-votes" && this.awaitingSince(service) === undefined)
        this.awaiting.set(service, { since: clock(), takenAt: this.takenAt.get(service) });
      if (this.holding.get(service) === now.get(service)) continue;
      if (!this.holding.has(service)) this.options.counts.removalsHeldBack++;
      const line = {
        op: "hold",
        service,
        rs,
        why,
        epoch: records.recordsEpoch,
        leader: this.options.side.leader(),
      };
      if (why === "newer-votes-up")
        logger.warn(
          line,
          "pair: the leader's record takes out servers that votes received since it have up; keeping them " +
            "until the two agree",
        );
      else
        logger.info(
          line,
          "pair: the leader's record takes out servers this follower has up; awaiting votes newer than " +
            "the record before it does (one vote TTL at most)",
        );
    }
    for (const service of this.awaiting.keys())
      if (this.awaitingSince(service) === undefined) this.awaiting.delete(service);
    for (const service of this.holding.keys())
      if (!now.has(service))
        logger.info(
          { op: "hold-released", service, epoch: records.recordsEpoch },
          "pair: following the leader's record for the service again",
        );
    this.holding.clear();
    for (const [service, what] of now) this.holding.set(service, what);
  }
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
