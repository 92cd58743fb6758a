import type { VirtualServiceEntry } from "@lvsq/protocol";
import type { DirectorState } from "./model.js";
import type { VoteCounters } from "./types.js";

/** The desired entry of one service (for a DesiredRecord), undefined if the config has no such service. */
export function desiredEntry(state: DirectorState, service: string): VirtualServiceEntry | undefined {
  return state.services.get(service)?.entry;
}

/** Totals of accepted and dropped votes since the state was created (a live object: copy to keep). */
export function voteCounters(state: DirectorState): Readonly<VoteCounters> {
  return state.counters;
}
