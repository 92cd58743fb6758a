import type { VotePending, VoteState } from "@lvsq/protocol";

export type CheckVerdict = "up" | "down" | "abstain";

/**
 * One probe's opinion of one real server, as seesaw's checker keeps it: Unknown until `rise` successes or
 * `fall` failures in a row settle it, then it flips only after `rise`/`fall` consecutive opposite results
 * (the shell loop's "check a few more times before removing"). A check that could not run (the probe's own
 * machinery failed) makes the vote an abstention at once and never counts against the server.
 */
export type RiseFallState = {
  settled: "unknown" | "up" | "down";
  abstaining: boolean;
  ups: number;
  downs: number;
  /** When the vote last changed (epoch ms). */
  since: number;
  reason: string;
  latencyMs: number;
  weight: number | undefined;
  /** The last result was up with a warning (tls expiry). */
  warning: boolean;
};

export function initialRiseFall(now: number): RiseFallState {
  return {
    settled: "unknown",
    abstaining: false,
    ups: 0,
    downs: 0,
    since: now,
    reason: "no result yet",
    latencyMs: 0,
    weight: undefined,
    warning: false,
  };
}

export function voteOf(state: RiseFallState): VoteState {
  if (state.abstaining || state.settled === "unknown") return "abstain";
  return state.settled;
}

/**
 * The flip under way, if the latest checks disagree with the vote: `up` after `count` of `rise` successes
 * (also while the vote is still unknown), `down` after `count` of `fall` failures. The vote's reason is the
 * last check's, so without this a `down` vote reading "HTTP 200" looks like a contradiction.
 */
export function pendingOf(
  state: RiseFallState,
  limits: { rise: number; fall: number },
): VotePending | undefined {
  if (state.abstaining) return undefined;
  const vote = voteOf(state);
  if (state.ups > 0 && vote !== "up" && state.ups < limits.rise)
    return { state: "up", count: state.ups, needed: limits.rise };
  if (state.downs > 0 && vote !== "down" && state.downs < limits.fall)
    return { state: "down", count: state.downs, needed: limits.fall };
  return undefined;
}

/** Applies one check result; `flipped` says whether the published vote changed. */
export function applyResult(
  state: RiseFallState,
  result: {
    verdict: CheckVerdict;
    reason: string;
    latencyMs: number;
    weight?: number | undefined;
    warning?: boolean | undefined;
  },
  limits: { rise: number; fall: number },
  now: number,
): { state: RiseFallState; flipped: boolean } {
  const before = voteOf(state);
  const next: RiseFallState = {
    ...state,
    reason: result.reason,
    latencyMs: result.latencyMs,
    warning: result.verdict === "up" && result.warning === true,
  };
  if (result.verdict === "abstain") {
    next.abstaining = true;
    next.ups = 0;
    next.downs = 0;
  } else {
    next.abstaining = false;
    if (result.verdict === "up") {
      next.ups = state.ups + 1;
      next.downs = 0;
      next.weight = result.weight;
      if (next.settled !== "up" && next.ups >= limits.rise) next.settled = "up";
    } else {
      next.downs = state.downs + 1;
      next.ups = 0;
      if (next.settled !== "down" && next.downs >= limits.fall) next.settled = "down";
    }
  }
  const after = voteOf(next);
  if (after !== before) next.since = now;
  return { state: next, flipped: after !== before };
}
