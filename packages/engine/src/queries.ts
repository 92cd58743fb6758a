import type { VirtualServiceEntry } from "@lvsq/protocol";
import { ADMIN_DRAIN, type DirectorState } from "./model.js";
import type { VoteCounters } from "./types.js";

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
