import type { VirtualServiceEntry } from "@lvsq/protocol";
import { ADMIN_DRAIN, ADMIN_NONE, type DirectorState, HEALTH_UP } from "./model.js";
import { countVoters, decideVerdict } from "./quorum.js";
import type { Verdict, VoteCounters } from "./types.js";

/** The desired entry of one service (for a DesiredRecord), undefined if the config has no such service. */
export function desiredEntry(state: DirectorState, service: string): VirtualServiceEntry | undefined {
  return state.services.get(service)?.entry;
}

/** Totals of accepted and dropped votes since the state was created (a live object: copy to keep). */
export function voteCounters(state: DirectorState): Readonly<VoteCounters> {
  return state.counters;
}

/** Real servers an operator drained (weight 0) that are still draining, for the director's connection check. */
export function drainingRealServers(state: DirectorState): { service: string; rs: string }[] {
  const out: { service: string; rs: string }[] = [];
  for (const [service, svc] of state.services) {
    svc.admin.forEach((code, rs) => {
      if (code === ADMIN_DRAIN) out.push({ service, rs: svc.addresses[rs]! });
    });
  }
  return out;
}

/**
 * For each real server of a service this director has up (in its table by health, no admin override): the
 * verdict of the votes it received since `since` alone (this director's clock, as `now`). What a pair
 * follower weighs against a leader's record it took at `since` (the director's follower-hold.ts).
 */
export function verdictsSince(
  state: DirectorState,
  service: string,
  since: number,
  now: number,
): Map<string, Verdict> {
  const verdicts = new Map<string, Verdict>();
  const svc = state.services.get(service);
  if (!svc) return verdicts;
  const window = Math.min(state.config.quorum.voteTtlMs, now - since);
  svc.addresses.forEach((address, rs) => {
    if (svc.health[rs] !== HEALTH_UP || svc.admin[rs] !== ADMIN_NONE) return;
    if (window < 0) {
      verdicts.set(address, "fail-static");
      return;
    }
    countVoters(svc.votes, rs, now, window, svc.layout, svc.counts);
    verdicts.set(address, decideVerdict(svc.counts, svc.layout));
  });
  return verdicts;
}
