import type { Logger } from "@lvsq/runtime";
import type { PairHost } from "./pair-host.js";
import type { DesiredPublisher } from "./pair-publisher.js";
import type { RecordIntake } from "./pair-record-intake.js";
import { message } from "./pair-record-intake.js";
import type { LeaderRecords } from "./pair-records.js";

export type PairRole = "leader" | "follower" | "isolated";

/**
 * A pair member's role and the transitions between them, each with its event: taking the lease (leader:
 * every service's record is written), following a holder (the records are read again and applied), losing
 * the lease, being deposed by a newer epoch, and isolation (nothing applied, the kernel table kept). The
 * lease rounds that decide which transition to make are pair-coordinator.ts's.
 */
export class PairRoles {
  role: PairRole = "isolated";
  /** This director's own term while it leads. */
  term: number | undefined;
  leaderId: string | null = null;

  constructor(
    private readonly options: {
      directorId: string;
      pair: string;
      logger: Logger;
      host: PairHost;
      records: LeaderRecords;
      counts: { takeovers: number };
      intake: () => RecordIntake;
      publisher: () => DesiredPublisher | undefined;
    },
  ) {}

  becomeLeader(epoch: number): void {
    const { host, pair, directorId, logger, records, counts } = this.options;
    const previousLeader = this.leaderId;
    const previousEpoch = records.maxEpoch || null;
    this.term = epoch;
    records.noteEpoch(epoch);
    this.role = "leader";
    this.leaderId = directorId;
    counts.takeovers++;
    const services = Object.keys(host.config().services);
    const changedAtTakeover = records.differing(services, (service) => host.decision(service));
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
    this.options.publisher()!.mark(services);
  }

  async becomeFollower(holder: string | undefined, epoch: number | undefined): Promise<void> {
    const { host, pair, logger, records } = this.options;
    const intake = this.options.intake();
    const previous = this.role;
    if (epoch !== undefined) records.noteEpoch(epoch);
    if (holder) this.leaderId = holder;
    if (previous === "follower") return;
    this.role = "follower";
    this.term = undefined;
    this.options.publisher()!.clear();
    // Whatever the watch missed while we were away or leading, read it all again before applying.
    try {
      if (!intake.readThisRound) await intake.recover();
    } catch (error) {
      logger.warn({ err: message(error) }, "pair: cannot re-read the desired records; applying what we have");
    }
    if (previous === "isolated")
      host.emit({ type: "rejoined", service: "*", pair, leader: this.leaderId, epoch: records.maxEpoch });
    intake.applyRecords();
  }

  loseLease(reason: string): void {
    const { host, pair } = this.options;
    if (this.role !== "leader") return;
    host.emit({ type: "lease-lost", service: "*", pair, epoch: this.term ?? 0, reason });
    this.role = "follower";
    this.term = undefined;
    this.options.publisher()?.clear();
  }

  deposed(epoch: number, leader: string): void {
    this.options.records.noteEpoch(epoch);
    this.leaderId = leader;
    this.loseLease(`${leader} holds a newer epoch (${epoch})`);
    this.options.intake().applyRecords();
  }

  isolate(reason: string): void {
    if (this.role === "isolated") return;
    const { host, pair, records } = this.options;
    this.role = "isolated";
    this.term = undefined;
    this.options.publisher()?.clear();
    host.emit({ type: "isolated", service: "*", pair, reason, epoch: records.maxEpoch });
  }
}
