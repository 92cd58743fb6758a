import type { DropReport } from "@lvsq/engine";
import { parseVotesSubject, type VoteBatch } from "@lvsq/protocol";
import { type DirectorMetrics, type Logger, rateLimitedWarn } from "@lvsq/runtime";
import type { DirectorCounts } from "./heartbeat.js";

/**
 * The director's accounting of refused votes: the subject check it makes itself before the engine (a
 * batch whose subject names another probe, service or cluster than its payload is forged or misrouted),
 * and the engine's own drops. Each is counted (heartbeat and metrics) and warned about at most once a
 * minute per reason and source.
 */
export class VoteIntake {
  private readonly warn: ReturnType<typeof rateLimitedWarn>;

  constructor(
    private readonly counts: DirectorCounts,
    private readonly metrics: DirectorMetrics | undefined,
    logger: Logger,
    now: () => number,
  ) {
    this.warn = rateLimitedWarn(logger, 60_000, now);
  }

  /** True when the subject agrees with the payload; otherwise the batch is counted as dropped. */
  admit(batch: VoteBatch, subject: string): boolean {
    const parts = parseVotesSubject(subject);
    if (
      parts &&
      parts.probe === batch.probe &&
      parts.service === batch.service &&
      parts.cluster === batch.cluster
    )
      return true;
    this.counts.votesDropped += batch.votes.length;
    this.metrics?.votesDropped.inc({ reason: "subject-mismatch" }, batch.votes.length);
    this.warn(
      `subject-mismatch:${parts?.probe ?? subject}`,
      { subject, probe: batch.probe, service: batch.service },
      "dropped votes: the subject does not match the payload (forged or misrouted)",
    );
    return false;
  }

  /** Votes of an admitted batch that the engine kept. */
  accepted(votes: number): void {
    this.counts.votesAccepted += votes;
    this.metrics?.votesReceived.inc(votes);
  }

  /** The engine dropped a batch, or some of its votes; `source` is the probe (or the input type). */
  dropped(report: DropReport, source: string): void {
    this.counts.votesDropped += report.votes;
    this.metrics?.votesDropped.inc({ reason: report.reason }, report.votes);
    this.warn(
      `${report.reason}:${source}`,
      { probe: source, reason: report.reason, detail: report.detail },
      "dropped votes",
    );
  }
}
