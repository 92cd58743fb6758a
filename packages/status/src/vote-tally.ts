import type { FleetConfig, ServiceConfig } from "@lvsq/config";
import { createLayout, decideVerdict, siteVerdict } from "@lvsq/engine";
import type { VotePending, VoteState } from "@lvsq/protocol";
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
  pending: VotePending | undefined;
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
  // The engine's own layout gives the voter count and thresholds, so status never re-states the rules.
  const { layout, siteNames } = createLayout(
    config.quorum.by,
    [...probeSite.values()],
    config.quorum.up,
    config.quorum.down,
  );
  return {
    by: layout.by,
    sites: siteNames,
    probeSite,
    total: layout.total,
    upNeeded: layout.upNeeded,
    downNeeded: layout.downNeeded,
  };
}

/**
 * The votes we see, tallied with the engine's rules (`siteVerdict`, `decideVerdict`); a vote older than
 * `voteTtlMs` is `expired` and counts as an abstention. The engine's `fail-static` reads `none` here.
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
      // An expired vote's flip is old news, as in the director's explain.
      pending: state === "expired" ? null : (vote.pending ?? null),
    });
  }
  let siteUp = 0;
  let siteDown = 0;
  const sites: SiteVotesView[] = [];
  for (const [site, list] of bySite) {
    list.sort((a, b) => a.probe.localeCompare(b.probe));
    const up = list.filter((v) => v.state === "up").length;
    const down = list.filter((v) => v.state === "down").length;
    const verdict = siteVerdict(up, down);
    // Only the service's own sites count towards quorum; a stray site is shown, not counted.
    if (voters.sites.includes(site)) {
      if (verdict === "up") siteUp++;
      if (verdict === "down") siteDown++;
    }
    sites.push({ site, verdict, votes: list });
  }
  const up = voters.by === "site" ? siteUp : probeUp;
  const down = voters.by === "site" ? siteDown : probeDown;
  const decided = decideVerdict({ up, down }, voters);
  const verdict = decided === "fail-static" ? "none" : decided;
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
