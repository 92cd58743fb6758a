import type { DirectorEntry, FleetState, ProbeEntry, RsEntry, ServiceEntry } from "./fleet-state.js";
import type {
  DirectorView,
  FleetSnapshot,
  Freshness,
  FreshnessCounts,
  ProbeView,
  RealServerState,
  RealServerView,
  ServiceView,
} from "./snapshot.js";
import { tallyVotes } from "./vote-tally.js";

/** Builds the stable snapshot (see snapshot.ts) from the model's state at `now`. */
export function buildSnapshot(state: FleetState, now: number): FleetSnapshot {
  const directors = markDigestMismatches(
    [...state.directors.values()].map((d) => directorView(d, state.staleAfterMs, now)),
  );
  const probes = [...state.probes.values()].map((p) => probeView(p, state.staleAfterMs, now));
  const services = [...state.services.values()].map((s) => serviceView(s, state, now));
  const realServers = { ...emptyCounts(), total: 0 };
  for (const service of services) {
    for (const rs of service.realServers) {
      realServers[rs.state]++;
      realServers.total++;
    }
  }
  return {
    v: 1,
    cluster: state.config.cluster,
    generatedAt: now,
    staleAfterMs: state.staleAfterMs,
    summary: {
      directors: {
        ...freshnessCounts(directors),
        digestMismatch: directors.filter((d) => d.digestMismatch).length,
      },
      probes: freshnessCounts(probes),
      realServers,
    },
    directors,
    probes,
    services,
    history: [...state.history],
  };
}

function freshness(lastSeenAt: number | undefined, staleAfterMs: number, now: number): Freshness {
  if (lastSeenAt === undefined) return "missing";
  return now - lastSeenAt <= staleAfterMs ? "fresh" : "stale";
}

function freshnessCounts(list: { freshness: Freshness }[]): FreshnessCounts {
  const count = (f: Freshness) => list.filter((x) => x.freshness === f).length;
  return { total: list.length, fresh: count("fresh"), stale: count("stale"), missing: count("missing") };
}

function directorView(entry: DirectorEntry, staleAfterMs: number, now: number): DirectorView {
  const hb = entry.heartbeat;
  return {
    id: entry.id,
    configured: entry.configured,
    pair: entry.pair,
    freshness: freshness(entry.lastSeenAt, staleAfterMs, now),
    lastSeenAt: entry.lastSeenAt ?? null,
    ageMs: entry.lastSeenAt === undefined ? null : Math.max(0, now - entry.lastSeenAt),
    role: hb?.role ?? null,
    epoch: hb?.epoch ?? null,
    appliedEpoch: hb?.appliedEpoch ?? null,
    tableDigest: hb?.tableDigest ?? null,
    digestMismatch: false,
    lastApplyAt: hb?.lastApplyAt ?? null,
    lastApplyMs: hb?.lastApplyMs ?? null,
    version: hb?.version ?? null,
    uptimeMs: hb?.uptimeMs ?? null,
    counts: hb ? { ...hb.counts } : null,
  };
}

/**
 * Within each pair, among fresh directors: the reference digest is the leader's; without a leader, the
 * most common one (a tie has no reference, so every member is flagged). A stale director is not compared.
 */
function markDigestMismatches(directors: DirectorView[]): DirectorView[] {
  const pairs = new Map<string, DirectorView[]>();
  for (const d of directors) {
    if (d.pair === null || d.freshness !== "fresh" || d.tableDigest === null) continue;
    pairs.set(d.pair, [...(pairs.get(d.pair) ?? []), d]);
  }
  for (const members of pairs.values()) {
    if (members.length < 2) continue;
    const leaders = members.filter((d) => d.role === "leader");
    let reference: string | null = leaders.length === 1 ? leaders[0]!.tableDigest : null;
    if (leaders.length !== 1) {
      const counts = new Map<string, number>();
      for (const d of members) counts.set(d.tableDigest!, (counts.get(d.tableDigest!) ?? 0) + 1);
      const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]);
      reference = ranked.length === 1 || ranked[0]![1] > ranked[1]![1] ? ranked[0]![0] : null;
    }
    for (const d of members) d.digestMismatch = d.tableDigest !== reference;
  }
  return directors;
}

function probeView(entry: ProbeEntry, staleAfterMs: number, now: number): ProbeView {
  const hb = entry.heartbeat;
  return {
    id: entry.id,
    configured: entry.configured,
    site: entry.site,
    freshness: freshness(entry.lastSeenAt, staleAfterMs, now),
    lastSeenAt: entry.lastSeenAt ?? null,
    ageMs: entry.lastSeenAt === undefined ? null : Math.max(0, now - entry.lastSeenAt),
    version: hb?.version ?? null,
    uptimeMs: hb?.uptimeMs ?? null,
    checksPerSecond: hb?.checksPerSecond ?? null,
    checksTotal: hb?.checksTotal ?? null,
    errorsTotal: hb?.errorsTotal ?? null,
    connected: hb?.connected ?? null,
    lastVotesAt: entry.lastVotesAt ?? null,
  };
}

function serviceView(entry: ServiceEntry, state: FleetState, now: number): ServiceView {
  const service = entry.config;
  const realServers = [...entry.realServers.values()].map((rs) => realServerView(rs, entry, state, now));
  const counts = emptyCounts();
  for (const rs of realServers) counts[rs.state]++;
  return {
    id: service.id,
    address: service.vip !== undefined ? `${service.protocol} ${service.vip}` : `fwmark ${service.fwmark}`,
    scheduler: service.scheduler,
    fallbackActive: entry.fallbackActive,
    counts,
    realServers,
    lastTransition: entry.lastTransition ?? null,
  };
}

/**
 * State precedence: an operator's drain/disable (it wins over votes in every director), then the newest
 * director decision (event or desired table), then the quorum of the votes, else unknown.
 */
function realServerView(rs: RsEntry, service: ServiceEntry, state: FleetState, now: number): RealServerView {
  const { quorum, sites } = tallyVotes(rs.votes.values(), service.voters, state.config.quorum.voteTtlMs, now);
  let current: RealServerState = "unknown";
  let weight: number | null = null;
  let source: RealServerView["source"] = "none";
  if (rs.director) {
    source = "director";
    weight = rs.director.inTable ? rs.director.weight : null;
    current = rs.director.inTable && (rs.director.weight ?? 1) > 0 ? "up" : "down";
  } else if (rs.votedState !== "unknown") {
    source = "votes";
    current = rs.votedState;
    weight = current === "up" ? rs.configuredWeight : null;
  }
  if (rs.admin?.action === "drain") current = "draining";
  if (rs.admin?.action === "disable") current = "disabled";
  return {
    address: rs.address,
    configuredWeight: rs.configuredWeight,
    state: current,
    weight,
    source,
    director: rs.director ? { ...rs.director } : null,
    quorum,
    sites,
    admin: rs.admin
      ? {
          action: rs.admin.action,
          author: rs.admin.author,
          reason: rs.admin.reason,
          at: rs.admin.at,
          deadline: rs.admin.deadline ?? null,
        }
      : null,
    lastTransition: rs.lastTransition ?? null,
  };
}

function emptyCounts(): Record<RealServerState, number> {
  return { up: 0, down: 0, draining: 0, disabled: 0, unknown: 0 };
}
