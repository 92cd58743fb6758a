import type { FleetConfig } from "@lvsq/config";
import {
  type AdminRecord,
  type DesiredRecord,
  type DirectorHeartbeat,
  type EventEnvelope,
  kvKeys,
  type ProbeHeartbeat,
  type VoteBatch,
} from "@lvsq/protocol";
import { describeEvent, describeVoteTransition } from "./describe.js";
import type { FleetSnapshot, TransitionView } from "./snapshot.js";
import { buildSnapshot } from "./views.js";
import { serviceVoters, tallyVotes } from "./vote-tally.js";
import type { DirectorDecision, FleetState, RsEntry } from "./fleet-state.js";

export type FleetModelOptions = {
  /** Transitions kept for the timeline (default 200). */
  historyLimit?: number;
  /** A director or probe whose last heartbeat is older than this is stale (default 6 s: 3 missed beats). */
  staleAfterMs?: number;
};

/**
 * The fleet as the status process sees it, built only from messages (heartbeats, events, vote batches,
 * admin and desired KV records), each handed in with the local time it arrived. No I/O and no clock here:
 * `watchFleet` feeds it from a bus, tests feed it recorded sequences. Each ingest costs O(real servers in
 * the message); `snapshot(now)` builds the whole view.
 */
export class FleetModel {
  private readonly state: FleetState;
  private readonly listeners = new Set<() => void>();
  private revisionCount = 0;

  constructor(config: FleetConfig, options: FleetModelOptions = {}) {
    this.state = {
      config,
      historyLimit: options.historyLimit ?? 200,
      staleAfterMs: options.staleAfterMs ?? 6_000,
      directors: new Map(
        config.directors.map((d) => [d.id, { id: d.id, configured: true, pair: d.pair ?? null }]),
      ),
      probes: new Map(config.probes.map((p) => [p.id, { id: p.id, configured: true, site: p.site }])),
      services: new Map(),
      adminKeys: new Map(),
      history: [],
    };
    for (const service of Object.values(config.services)) {
      const realServers = new Map<string, RsEntry>();
      for (const rs of service.realServers) {
        const entry: RsEntry = {
          address: rs.address,
          configuredWeight: rs.weight,
          votes: new Map(),
          votedState: "unknown",
        };
        realServers.set(rs.address, entry);
        this.state.adminKeys.set(kvKeys.admin(service.id, rs.address), entry);
      }
      this.state.services.set(service.id, {
        config: service,
        voters: serviceVoters(config, service),
        realServers,
        fallbackActive: null,
      });
    }
  }

  /** Increases on every ingested message that changed the model. */
  get revision(): number {
    return this.revisionCount;
  }

  /** Called after every change; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(now: number): FleetSnapshot {
    return buildSnapshot(this.state, now);
  }

  /** True once every configured probe and director reported and every service has votes from its probes. */
  isComplete(): boolean {
    for (const d of this.state.directors.values()) if (d.configured && !d.heartbeat) return false;
    for (const p of this.state.probes.values()) if (p.configured && !p.heartbeat) return false;
    for (const s of this.state.services.values())
      for (const rs of s.realServers.values())
        for (const probe of s.voters.probeSite.keys()) if (!rs.votes.has(probe)) return false;
    return true;
  }

  ingestProbeHeartbeat(heartbeat: ProbeHeartbeat, now: number): void {
    if (heartbeat.cluster !== this.state.config.cluster) return;
    const known = this.state.probes.get(heartbeat.probe);
    const entry = known ?? { id: heartbeat.probe, configured: false, site: heartbeat.site };
    entry.heartbeat = heartbeat;
    entry.lastSeenAt = now;
    this.state.probes.set(entry.id, entry);
    this.changed();
  }

  ingestDirectorHeartbeat(heartbeat: DirectorHeartbeat, now: number): void {
    if (heartbeat.cluster !== this.state.config.cluster) return;
    const entry = this.state.directors.get(heartbeat.director) ?? {
      id: heartbeat.director,
      configured: false,
      pair: null,
    };
    entry.heartbeat = heartbeat;
    entry.lastSeenAt = now;
    if (heartbeat.pair !== undefined) entry.pair = heartbeat.pair;
    this.state.directors.set(entry.id, entry);
    this.changed();
  }

  ingestVotes(batch: VoteBatch, now: number): void {
    if (batch.cluster !== this.state.config.cluster) return;
    const service = this.state.services.get(batch.service);
    // Like a director: votes from a probe not assigned to the service, or on unknown servers, do not count.
    if (!service?.voters.probeSite.has(batch.probe)) return;
    const probe = this.state.probes.get(batch.probe);
    if (probe) probe.lastVotesAt = now;
    const reporting = this.directorReporting(now);
    for (const vote of batch.votes) {
      const rs = service.realServers.get(vote.rs);
      if (!rs) continue;
      rs.votes.set(batch.probe, {
        probe: batch.probe,
        site: batch.site,
        state: vote.state,
        since: vote.since,
        latencyMs: vote.latencyMs,
        reason: vote.reason,
        weight: vote.weight,
        pending: vote.pending,
        receivedAt: now,
      });
      const { quorum } = tallyVotes(
        rs.votes.values(),
        service.voters,
        this.state.config.quorum.voteTtlMs,
        now,
      );
      if (quorum.verdict !== "up" && quorum.verdict !== "down") continue; // fail-static: keep the state
      if (quorum.verdict === rs.votedState) continue;
      const previous = rs.votedState;
      rs.votedState = quorum.verdict;
      // While no director reports, the votes are the only news of a transition: record it ourselves.
      if (previous !== "unknown" && !reporting) {
        this.record({
          at: now,
          service: batch.service,
          rs: rs.address,
          type: `votes-${quorum.verdict}`,
          source: "votes",
          director: null,
          summary: describeVoteTransition(rs.address, quorum.verdict, quorum),
          event: null,
        });
      }
    }
    this.changed();
  }

  ingestEvent(envelope: EventEnvelope, _now: number): void {
    if (envelope.cluster !== this.state.config.cluster) return;
    const event = envelope.event as Record<string, unknown> & { type: string };
    const rsAddress = typeof event.rs === "string" ? event.rs : null;
    const duplicate = this.state.history.some(
      (t) =>
        t.at === envelope.at &&
        t.director === envelope.director &&
        t.type === event.type &&
        t.rs === rsAddress,
    );
    if (duplicate) return;
    const transition: TransitionView = {
      at: envelope.at,
      service: envelope.service,
      rs: rsAddress,
      type: event.type,
      source: "director",
      director: envelope.director,
      summary: describeEvent(event),
      event,
    };
    this.record(transition);
    const service = this.state.services.get(envelope.service);
    if (service) {
      if (event.type === "fallback-on") service.fallbackActive = true;
      if (event.type === "fallback-off") service.fallbackActive = false;
      const rs = rsAddress === null ? undefined : service.realServers.get(rsAddress);
      const decision = rs && decisionOf(event, envelope);
      if (rs && decision) setDecision(rs, decision);
    }
    this.changed();
  }

  /** An admin KV record (`lvsq admin`), or `undefined` when the key was deleted. */
  ingestAdmin(key: string, record: AdminRecord | undefined, _now: number): void {
    const rs = this.state.adminKeys.get(key);
    if (!rs) return;
    rs.admin = record && record.action !== "enable" ? record : undefined;
    this.changed();
  }

  /** A pair leader's desired table for one service: the authoritative membership and weights. */
  ingestDesired(record: DesiredRecord, _now: number): void {
    if (record.cluster !== this.state.config.cluster) return;
    const service = this.state.services.get(record.service);
    if (!service) return;
    for (const rs of service.realServers.values()) {
      const inTable = record.table?.realServers.find((r) => r.address === rs.address);
      const reason = record.reasons.find((r) => r.rs === rs.address);
      setDecision(rs, {
        inTable: inTable !== undefined,
        weight: inTable?.weight ?? null,
        at: record.at,
        by: record.leader,
        rule: reason?.rule ?? "desired",
      });
    }
    this.changed();
  }

  private directorReporting(now: number): boolean {
    for (const d of this.state.directors.values())
      if (d.lastSeenAt !== undefined && now - d.lastSeenAt <= this.state.staleAfterMs) return true;
    return false;
  }

  private record(transition: TransitionView): void {
    const history = this.state.history;
    let i = history.length;
    while (i > 0 && history[i - 1]!.at > transition.at) i--; // events from several directors may interleave
    history.splice(i, 0, transition);
    if (history.length > this.state.historyLimit) history.splice(0, history.length - this.state.historyLimit);
    const service = this.state.services.get(transition.service);
    if (!service) return;
    if (!service.lastTransition || service.lastTransition.at <= transition.at)
      service.lastTransition = transition;
    const rs = transition.rs === null ? undefined : service.realServers.get(transition.rs);
    if (rs && (!rs.lastTransition || rs.lastTransition.at <= transition.at)) rs.lastTransition = transition;
  }

  private changed(): void {
    this.revisionCount++;
    for (const listener of this.listeners) listener();
  }
}

/** What a director event says about a real server's place in the table (undefined: nothing). */
function decisionOf(event: Record<string, unknown>, envelope: EventEnvelope): DirectorDecision | undefined {
  const at = envelope.at;
  const by = envelope.director;
  switch (event.type) {
    case "rs-down":
      return event.action === "quiesce"
        ? { inTable: true, weight: 0, at, by, rule: "quorum-down" }
        : { inTable: false, weight: null, at, by, rule: "quorum-down" };
    case "rs-up":
      return { inTable: true, weight: numberOr(event.weight, null), at, by, rule: "quorum-up" };
    case "weight-changed":
      return { inTable: true, weight: numberOr(event.to, null), at, by, rule: "weight" };
    case "admin-applied":
      if (event.action === "drain") return { inTable: true, weight: 0, at, by, rule: "admin-drain" };
      if (event.action === "disable") return { inTable: false, weight: null, at, by, rule: "admin-disable" };
      return undefined;
    default:
      return undefined;
  }
}

/** Newest decision wins (events and desired records from several directors can arrive in any order). */
function setDecision(rs: RsEntry, decision: DirectorDecision): void {
  if (rs.director && rs.director.at > decision.at) return;
  rs.director = decision;
}

const numberOr = <T>(value: unknown, fallback: T): number | T =>
  typeof value === "number" ? value : fallback;
