import { type FleetConfig, type ServiceConfig, thresholdCount } from "@lvsq/config";
import type { VoteState } from "@lvsq/protocol";
import type { QuorumView, SiteVotesView, VoteView } from "./snapshot.js";

/** One probe's latest vote on one real server, as the status process received it. */
export type StoredVote = {
  probe: string;
  site: string;
  state: VoteState;
  since: number;
  latencyMs: number;
  reason: string;
  weight: number | undefined;
  /** Local receive time: freshness is judged by our clock, so a probe's skewed clock cannot fake it. */
  receivedAt: number;
};

/** The voters of one service: the distinct sites of its probes (by: site) or its probes (by: probe). */
export type ServiceVoters = {
  by: "site" | "probe";
  sites: string[];
  probeSite: Map<string, string>;
  total: number;
  upNeeded: number;
  downNeeded: number;
};

export function serviceVoters(config: FleetConfig, service: ServiceConfig): ServiceVoters {
  const probeSite = new Map<string, string>();
  for (const id of service.probes) {
    const site = config.probes.find((p) => p.id === id)?.site;
    if (site !== undefined) probeSite.set(id, site);
  }
  const sites = [...new Set(probeSite.values())];
  const total = config.quorum.by === "site" ? sites.length : probeSite.size;
  return {
    by: config.quorum.by,
    sites,
    probeSite,
    total,
    // As the engine: a threshold of 0 would let silence decide; at least one voter must speak.
    upNeeded: Math.max(1, thresholdCount(config.quorum.up, total)),
    downNeeded: Math.max(1, thresholdCount(config.quorum.down, total)),
  };
}

/**
 * The engine's quorum rules (packages/engine/src/quorum.ts), recomputed from the votes we see:
 * a site's verdict is the majority of its fresh up/down votes (tie = none); the service verdict counts site
 * verdicts (or probes) against the thresholds; neither reached = none (a director keeps the current state),
 * both = conflict. A vote older than `voteTtlMs` is `expired` and counts as an abstention.
 */
export function tallyVotes(
  votes: Iterable<StoredVote>,
  voters: ServiceVoters,
  voteTtlMs: number,
  now: number,
): { quorum: QuorumView; sites: SiteVotesView[] } {
  const bySite = new Map<string, VoteView[]>();
  for (const site of voters.sites) bySite.set(site, []);
  let probeUp = 0;
  let probeDown = 0;
  for (const vote of votes) {
    const ageMs = Math.max(0, now - vote.receivedAt);
    const state = ageMs > voteTtlMs ? "expired" : vote.state;
    if (state === "up") probeUp++;
    if (state === "down") probeDown++;
    const list = bySite.get(vote.site) ?? [];
    bySite.set(vote.site, list);
    list.push({
      probe: vote.probe,
      state,
      ageMs,
      since: vote.since,
      latencyMs: vote.latencyMs,
      reason: vote.reason,
      weight: vote.weight ?? null,
    });
  }
  let siteUp = 0;
  let siteDown = 0;
  const sites: SiteVotesView[] = [];
  for (const [site, list] of bySite) {
    list.sort((a, b) => a.probe.localeCompare(b.probe));
    const up = list.filter((v) => v.state === "up").length;
    const down = list.filter((v) => v.state === "down").length;
    const verdict = up > down ? "up" : down > up ? "down" : "none";
    // Only the service's own sites count towards quorum; a stray site is shown, not counted.
    if (voters.sites.includes(site)) {
      if (verdict === "up") siteUp++;
      if (verdict === "down") siteDown++;
    }
    sites.push({ site, verdict, votes: list });
  }
  const up = voters.by === "site" ? siteUp : probeUp;
  const down = voters.by === "site" ? siteDown : probeDown;
  const upReached = up >= voters.upNeeded;
  const downReached = down >= voters.downNeeded;
  const verdict = upReached && downReached ? "conflict" : upReached ? "up" : downReached ? "down" : "none";
  return {
    quorum: {
      by: voters.by,
      up,
      down,
      total: voters.total,
      upNeeded: voters.upNeeded,
      downNeeded: voters.downNeeded,
      verdict,
    },
    sites,
  };
}
