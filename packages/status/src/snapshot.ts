import type { AdminAction, DirectorRole } from "@lvsq/protocol";

/**
 * The fleet as `lvsq status --json` prints it and the web page receives it. This shape is a contract
 * (docs/status.md): fields are only ever added; `v` changes if one is removed or changes meaning. Times are
 * epoch ms (the status process's clock), ages are ms, `null` means "not known".
 */
export type FleetSnapshot = {
  v: 1;
  cluster: string;
  generatedAt: number;
  /** Directors and probes are considered stale when their last heartbeat is older than this. */
  staleAfterMs: number;
  summary: SnapshotSummary;
  directors: DirectorView[];
  probes: ProbeView[];
  services: ServiceView[];
  /** Transitions, oldest first, at most `historyLimit` of them. */
  history: TransitionView[];
};

export type SnapshotSummary = {
  directors: FreshnessCounts & { digestMismatch: number };
  probes: FreshnessCounts;
  realServers: Record<RealServerState, number> & { total: number };
};

export type FreshnessCounts = { total: number; fresh: number; stale: number; missing: number };

/** `fresh`: heard within `staleAfterMs`; `stale`: heard before; `missing`: configured, never heard. */
export type Freshness = "fresh" | "stale" | "missing";

export type DirectorView = {
  id: string;
  /** In the fleet config's `directors` (an unknown director that reports is listed too, with false). */
  configured: boolean;
  pair: string | null;
  freshness: Freshness;
  lastSeenAt: number | null;
  ageMs: number | null;
  role: DirectorRole | null;
  epoch: number | null;
  appliedEpoch: number | null;
  tableDigest: string | null;
  /** Its table digest differs from its pair's (the leader's, or the most common one without a leader). */
  digestMismatch: boolean;
  lastApplyAt: number | null;
  lastApplyMs: number | null;
  version: string | null;
  uptimeMs: number | null;
  counts: {
    votesAccepted: number;
    votesDropped: number;
    applies: number;
    applyErrors: number;
    driftRepairs: number;
    realServersUp: number;
    realServersDown: number;
  } | null;
};

export type ProbeView = {
  id: string;
  configured: boolean;
  site: string;
  freshness: Freshness;
  lastSeenAt: number | null;
  ageMs: number | null;
  version: string | null;
  uptimeMs: number | null;
  checksPerSecond: number | null;
  checksTotal: number | null;
  errorsTotal: number | null;
  /** false when the probe reports it could not publish since its last heartbeat. */
  connected: boolean | null;
  /** When its last vote batch (any service) arrived. */
  lastVotesAt: number | null;
};

/**
 * `up`/`down`: in / out of the table (or quiesced at weight 0 by `onDown: quiesce`); `draining`/`disabled`:
 * an operator's override (`lvsq admin`); `unknown`: no director event and no quorum of votes yet.
 */
export type RealServerState = "up" | "down" | "draining" | "disabled" | "unknown";

export type ServiceView = {
  id: string;
  /** `tcp 192.168.1.100:80` or `fwmark 7`. */
  address: string;
  scheduler: string;
  /** From the latest fallback-on/off event; null before any. */
  fallbackActive: boolean | null;
  /** Real servers by state. */
  counts: Record<RealServerState, number>;
  realServers: RealServerView[];
  lastTransition: TransitionView | null;
};

export type RealServerView = {
  address: string;
  configuredWeight: number;
  state: RealServerState;
  /** The weight in the table when a director said so; the configured weight when up by votes alone. */
  weight: number | null;
  /** Where `state` comes from: a director's event or desired table, the votes' quorum, or nothing yet. */
  source: "director" | "votes" | "none";
  /** The latest director decision seen (event or desired table). */
  director: { inTable: boolean; weight: number | null; at: number; by: string | null; rule: string } | null;
  /** The quorum the status process computes from the votes it receives (same rules as the engine). */
  quorum: QuorumView;
  /** One entry per configured site (plus any site seen in votes), in config order. */
  sites: SiteVotesView[];
  admin: AdminView | null;
  lastTransition: TransitionView | null;
};

export type QuorumView = {
  by: "site" | "probe";
  up: number;
  down: number;
  total: number;
  upNeeded: number;
  downNeeded: number;
  /** `none`: neither threshold reached (a director keeps the current state: fail-static). */
  verdict: "up" | "down" | "none" | "conflict";
};

export type SiteVotesView = {
  site: string;
  /** The majority of this site's fresh up/down votes; a tie or no vote is `none`. */
  verdict: "up" | "down" | "none";
  votes: VoteView[];
};

export type VoteView = {
  probe: string;
  /** `expired`: older than the config's `voteTtl`, counted as an abstention. */
  state: "up" | "down" | "abstain" | "expired";
  ageMs: number;
  since: number;
  latencyMs: number;
  /** The last check's reason (it may disagree with `state` while a flip is under way: see `pending`). */
  reason: string;
  weight: number | null;
  /** The probe's flip under way (its last `count` checks said `state`, it flips after `needed`), else null. */
  pending: { state: "up" | "down"; count: number; needed: number } | null;
};

export type AdminView = {
  action: AdminAction;
  author: string;
  reason: string;
  at: number;
  deadline: number | null;
};

export type TransitionView = {
  at: number;
  service: string;
  rs: string | null;
  /** The engine event type (`rs-down`, `rs-up`, `fallback-on`, …) or `votes-down`/`votes-up`. */
  type: string;
  /** `director`: an event a director published; `votes`: derived here while no director reports. */
  source: "director" | "votes";
  director: string | null;
  /** One line saying why, with the numbers. */
  summary: string;
  /** The event as received (director events only), for the page's detail view. */
  event: Record<string, unknown> | null;
};
