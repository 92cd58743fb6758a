import type { FleetConfig } from "@lvsq/config";
import type { AdminAction, IpvsTable, VoteBatch, VotePending, VoteState } from "@lvsq/protocol";

/** An operator's override for one real server (the body of an `lvsq_<cluster>_admin` record). */
export type AdminCommand = {
  service: string;
  rs: string;
  action: AdminAction;
  author?: string;
  reason?: string;
  /** For drain: take the server out (as disable) once this time passes. */
  deadline?: number;
};

/** Everything the engine reacts to. Time is always an input (epoch ms), never read from a clock. */
export type EngineInput =
  | { type: "votes"; batch: VoteBatch; now: number }
  | { type: "tick"; now: number }
  | { type: "observed"; table: IpvsTable; now: number }
  | { type: "admin"; command: AdminCommand; now: number }
  | { type: "config"; config: FleetConfig; now: number };

/** Why a vote batch (or some votes in it) did not count. */
export type DropReason =
  | "wrong-cluster"
  | "unknown-probe"
  | "site-mismatch"
  | "replayed-seq"
  | "unknown-service"
  | "probe-not-assigned"
  | "unknown-real-server";

export type DropReport = { reason: DropReason; votes: number; detail: string };

/** The rule that decided a real server's place in the table, as `lvsq explain` and the events say it. */
export type Rule =
  | "initial"
  | "kernel-adopted"
  | "quorum-up"
  | "quorum-down"
  | "fail-static"
  | "quorum-conflict"
  | "startup-grace"
  | "removal-limited"
  | "weight-quorum-lost"
  | "admin-drain"
  | "admin-disable";

/** Quorum verdict for one real server: `fail-static` = neither threshold, `conflict` = both. */
export type Verdict = "up" | "down" | "fail-static" | "conflict";

/** The numbers behind a verdict: `up`/`down` count sites (or probes) against the thresholds. */
export type Tally = {
  by: "site" | "probe";
  up: number;
  down: number;
  total: number;
  upNeeded: number;
  downNeeded: number;
};

/** One probe's vote as seen at decision time. `missing` = never voted, `expired` = older than voteTtl. */
export type VoteView = {
  probe: string;
  site: string;
  state: VoteState | "expired" | "missing";
  ageMs: number | null;
  reason: string;
  weight?: number;
  /** The probe's flip under way: its last checks disagree with this vote (see the protocol's VotePending). */
  pending?: VotePending;
};

type RsEvent = { service: string; rs: string; tally: Tally; votes: VoteView[] };

export type EngineEvent =
  | ({ type: "rs-down"; action: "remove" | "quiesce" } & RsEvent)
  | ({ type: "rs-up"; weight: number } & RsEvent)
  | ({ type: "weight-changed"; from: number; to: number } & RsEvent)
  | ({
      type: "removal-limited";
      removedInWindow: number;
      max: number;
      perMs: number;
      retryAt: number;
    } & RsEvent)
  | {
      type: "fallback-on" | "fallback-off";
      service: string;
      healthyWeight: number;
      upServers: number;
      minUpWeight: number | null;
      hysteresis: number;
      servers: string[];
    }
  | {
      /** keepalived's "Lost quorum 7-2=5 > 4" / "Gained quorum 7+2=9 <= 9" (weightQuorum). */
      type: "weight-quorum-lost" | "weight-quorum-gained";
      service: string;
      healthyWeight: number;
      upServers: number;
      quorum: number;
      hysteresis: number;
      /** The weight the comparison was made against: quorum − hysteresis when lost, + when gained. */
      threshold: number;
      /** true for the first decision after the kernel table was read (keepalived's "Starting with quorum down"). */
      initial: boolean;
      /** Fallback servers that replace (lost) or gave way to (gained) the real servers; [] without fallback. */
      fallback: string[];
    }
  | {
      type: "quorum-unreachable";
      service: string;
      /** Real servers of the service whose votes reach neither threshold (kept as they are). */
      realServers: number;
      total: number;
      sample: RsEvent;
    }
  | { type: "quorum-restored"; service: string; total: number }
  | {
      type: "admin-applied";
      service: string;
      rs: string;
      action: AdminAction;
      previous: AdminAction;
      author?: string;
      reason?: string;
    }
  | { type: "admin-rejected"; service: string; rs: string; action: AdminAction; why: string }
  | { type: "service-created"; service: string; key: string }
  | { type: "service-removed"; service: string; key: string }
  | { type: "stale"; service: string; probe: string; site: string; realServers: number; ageMs: number }
  | {
      /** A probe's seq went backwards after its last accepted batch went stale (restart with a clock
       * stepped back, or the end of a silence forced by an absurd seq): ordering starts again from here. */
      type: "seq-reset";
      service: string;
      probe: string;
      site: string;
      fromSeq: number;
      toSeq: number;
      /** How long ago the batch that set `fromSeq` was accepted. */
      silentMs: number;
    };

export type EngineEventType = EngineEvent["type"];

/** Running totals of what the vote store accepted and dropped, for the director's status and metrics. */
export type VoteCounters = {
  batches: number;
  votes: number;
  dropped: Record<DropReason, number>;
  adminRejected: number;
  /** Batches accepted although their seq was not newer, because the last accepted one had gone stale. */
  seqResets: number;
};
