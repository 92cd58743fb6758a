import type { FleetConfig, ServiceConfig } from "@lvsq/config";
import type { AdminRecord, DirectorHeartbeat, ProbeHeartbeat } from "@lvsq/protocol";
import type { TransitionView } from "./snapshot.js";
import type { ServiceVoters, StoredVote } from "./vote-tally.js";

/** The mutable insides of a FleetModel, shared with the snapshot builder. Not exported from the package. */
export type FleetState = {
  config: FleetConfig;
  historyLimit: number;
  staleAfterMs: number;
  directors: Map<string, DirectorEntry>;
  probes: Map<string, ProbeEntry>;
  services: Map<string, ServiceEntry>;
  /** Admin KV key → the real server it names. */
  adminKeys: Map<string, RsEntry>;
  /** Oldest first, at most historyLimit. */
  history: TransitionView[];
};

export type DirectorEntry = {
  id: string;
  configured: boolean;
  pair: string | null;
  heartbeat?: DirectorHeartbeat;
  lastSeenAt?: number;
};

export type ProbeEntry = {
  id: string;
  configured: boolean;
  site: string;
  heartbeat?: ProbeHeartbeat;
  lastSeenAt?: number;
  lastVotesAt?: number;
};

export type ServiceEntry = {
  config: ServiceConfig;
  voters: ServiceVoters;
  realServers: Map<string, RsEntry>;
  fallbackActive: boolean | null;
  lastTransition?: TransitionView;
};

/** A director's word on one real server: from an event or a pair leader's desired table. */
export type DirectorDecision = {
  inTable: boolean;
  weight: number | null;
  at: number;
  by: string | null;
  rule: string;
};

export type RsEntry = {
  address: string;
  configuredWeight: number;
  /** Latest vote per probe. */
  votes: Map<string, StoredVote>;
  /** The last up/down quorum of the votes (kept through fail-static, like a director). */
  votedState: "up" | "down" | "unknown";
  director?: DirectorDecision;
  admin?: AdminRecord;
  lastTransition?: TransitionView;
};
