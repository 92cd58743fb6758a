import type { VirtualServiceEntry } from "@lvsq/protocol";
import { voteViews } from "./decide.js";
import { effectiveWeight } from "./desired.js";
import {
  ADMIN_DISABLE,
  ADMIN_DRAIN,
  type DirectorState,
  HEALTH_UP,
  RULES,
  type ServiceState,
} from "./model.js";
import { type Counts, countVoters, decideVerdict, siteVerdict, tallyOf } from "./quorum.js";
import { findRealServer } from "./observe.js";
import type { AdminCommand, Rule, Tally, Verdict, VoteView } from "./types.js";

export type SiteExplanation = {
  site: string;
  /** The site's verdict from its fresh votes (by: probe, still shown per site for reading). */
  verdict: "up" | "down" | "none";
  votes: VoteView[];
};

export type RealServerExplanation = {
  rs: string;
  /** In the desired table, and at what weight (null when out). */
  in: boolean;
  weight: number | null;
  health: "up" | "down";
  rule: Rule;
  /** The verdict the votes give at `now` ("none" before any vote arrived). */
  verdict: Verdict | "none";
  tally: Tally;
  /** When health last changed (epoch ms), null if never. */
  since: number | null;
  admin: AdminCommand | null;
  sites: SiteExplanation[];
};

export type ServiceExplanation = {
  service: string;
  key: string;
  director: string | null;
  by: "site" | "probe";
  voteTtlMs: number;
  startupGrace: { active: boolean; endsAt: number | null };
  fallback: {
    active: boolean;
    servers: string[];
    minUpWeight: { weight: number; hysteresis: number } | null;
    /** Set when the service has weightQuorum: its settings and whether the quorum is up (null: undecided). */
    weightQuorum?: { quorum: number; hysteresis: number; up: boolean | null };
  };
  removalLimit: { max: number; perMs: number; removedInWindow: number } | null;
  realServers: RealServerExplanation[];
};

function inGrace(state: DirectorState, now: number): boolean {
  return (
    !state.graceOver &&
    (state.startedAt === undefined || now < state.startedAt + state.config.quorum.startupGraceMs)
  );
}

/** The rule that put (or keeps) a real server where it is. */
export function ruleOf(state: DirectorState, svc: ServiceState, rs: number, now: number): Rule {
  if (svc.admin[rs] === ADMIN_DISABLE) return "admin-disable";
  if (svc.admin[rs] === ADMIN_DRAIN) return "admin-drain";
  const grace = inGrace(state, now);
  if (svc.weightQuorumUp === false && svc.fallbackEntries.length > 0 && effectiveWeight(svc, rs, grace) > 0) {
    return "weight-quorum-lost";
  }
  if (
    grace &&
    svc.health[rs] !== HEALTH_UP &&
    effectiveWeight(svc, rs, true) !== effectiveWeight(svc, rs, false)
  ) {
    return "startup-grace";
  }
  return RULES[svc.rule[rs]!]!;
}

function explainRealServer(
  state: DirectorState,
  svc: ServiceState,
  rs: number,
  now: number,
  inTable: Map<string, number>,
): RealServerExplanation {
  const ttlMs = state.config.quorum.voteTtlMs;
  const counts: Counts = { up: 0, down: 0 };
  countVoters(svc.votes, rs, now, ttlMs, svc.layout, counts);
  const votes = voteViews(svc, rs, now, ttlMs);
  const sites: SiteExplanation[] = svc.siteNames.map((site) => {
    const siteVotes = votes.filter((vote) => vote.site === site);
    const up = siteVotes.filter((vote) => vote.state === "up").length;
    const down = siteVotes.filter((vote) => vote.state === "down").length;
    return { site, verdict: siteVerdict(up, down), votes: siteVotes };
  });
  const address = svc.addresses[rs]!;
  const weight = inTable.get(address);
  const changedAt = svc.changedAt[rs]!;
  return {
    rs: address,
    in: weight !== undefined,
    weight: weight ?? null,
    health: svc.health[rs] === HEALTH_UP ? "up" : "down",
    rule: ruleOf(state, svc, rs, now),
    verdict: votes.some((vote) => vote.state !== "missing") ? decideVerdict(counts, svc.layout) : "none",
    tally: tallyOf(counts, svc.layout),
    since: Number.isNaN(changedAt) ? null : changedAt,
    admin: svc.adminInfo.get(rs) ?? null,
    sites,
  };
}

function weightsInTable(entry: VirtualServiceEntry | undefined): Map<string, number> {
  return new Map((entry?.realServers ?? []).map((rs) => [rs.address, rs.weight]));
}

/**
 * Why each real server of a service is in or out: its votes by site and probe (with age and reason), the
 * tally against the thresholds, and the rule that decided. Undefined for an unknown service or real server.
 */
export function explain(
  state: DirectorState,
  service: string,
  rs: string | undefined,
  now: number,
): ServiceExplanation | undefined {
  const svc = state.services.get(service);
  if (svc === undefined) return undefined;
  let indices = svc.addresses.map((_, i) => i);
  if (rs !== undefined) {
    const index = findRealServer(svc, rs);
    if (index === undefined) return undefined;
    indices = [index];
  }
  const inTable = weightsInTable(svc.entry);
  const { quorum } = state.config;
  const limit = svc.config.removalLimit;
  return {
    service: svc.id,
    key: svc.key,
    director: state.directorId ?? null,
    by: quorum.by,
    voteTtlMs: quorum.voteTtlMs,
    startupGrace: {
      active: inGrace(state, now),
      endsAt: state.startedAt === undefined ? null : state.startedAt + quorum.startupGraceMs,
    },
    fallback: {
      active: svc.fallbackActive,
      servers: svc.fallbackEntries.map((fb) => fb.address),
      minUpWeight: svc.config.minUpWeight ?? null,
      ...(svc.config.weightQuorum
        ? { weightQuorum: { ...svc.config.weightQuorum, up: svc.weightQuorumUp ?? null } }
        : {}),
    },
    removalLimit:
      limit === undefined
        ? null
        : {
            max: svc.removalMax!,
            perMs: limit.perMs,
            removedInWindow: svc.removals.filter((at) => at + limit.perMs > now).length,
          },
    realServers: indices.map((index) => explainRealServer(state, svc, index, now, inTable)),
  };
}

/** `{ rs, rule }` per real server, for the `reasons` of a DesiredRecord. */
export function serviceReasons(
  state: DirectorState,
  service: string,
  now: number,
): { rs: string; rule: Rule }[] {
  const svc = state.services.get(service);
  if (svc === undefined) return [];
  return svc.addresses.map((rs, index) => ({ rs, rule: ruleOf(state, svc, index, now) }));
}
