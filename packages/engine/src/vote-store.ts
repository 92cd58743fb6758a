import type { VotePending, VoteState } from "@lvsq/protocol";
import type { VoteView } from "./types.js";

/**
 * The latest vote per (probe, real server) of one service, in flat typed arrays indexed
 * `rs * probes + probe`, so storing a vote allocates nothing and a service of R real servers and P probes
 * costs R×P slots. A vote counts while `now - receivedAt <= voteTtlMs`; `abstain` never counts.
 */
export const VOTE_NONE = 0;
export const VOTE_UP = 1;
export const VOTE_DOWN = 2;
export const VOTE_ABSTAIN = 3;
/** Set on a slot once its expiry has been reported, so a `stale` event fires once per silence. */
const STALE_BIT = 4;
const VALUE_MASK = 3;
const NO_WEIGHT = -1;

export type VoteSlots = {
  probes: number;
  state: Uint8Array;
  receivedAt: Float64Array;
  weight: Int32Array;
  reason: string[];
  /** The probe's flip under way with that vote, if any (shown by explain and events; never counted). */
  pending: (VotePending | undefined)[];
  /** A lower bound of the earliest expiry among fresh slots: before it, no rescan is needed. */
  nextExpiryAt: number;
};

export function createVoteSlots(realServers: number, probes: number): VoteSlots {
  const size = realServers * probes;
  return {
    probes,
    state: new Uint8Array(size),
    receivedAt: new Float64Array(size),
    weight: new Int32Array(size).fill(NO_WEIGHT),
    reason: new Array<string>(size).fill(""),
    pending: new Array<VotePending | undefined>(size).fill(undefined),
    nextExpiryAt: Number.POSITIVE_INFINITY,
  };
}

export function voteCode(state: VoteState): number {
  return state === "up" ? VOTE_UP : state === "down" ? VOTE_DOWN : VOTE_ABSTAIN;
}

/** VOTE_UP or VOTE_DOWN for a fresh up/down vote, else VOTE_NONE (abstain, expired, never voted). */
export function countedCode(slots: VoteSlots, slot: number, now: number, ttlMs: number): number {
  const value = slots.state[slot]! & VALUE_MASK;
  if (value === VOTE_NONE || value === VOTE_ABSTAIN) return VOTE_NONE;
  return now - slots.receivedAt[slot]! <= ttlMs ? value : VOTE_NONE;
}

/**
 * Stores a vote. Returns true when what the slot contributes to a verdict changed (up/down/none or the
 * weight of an up vote), so the caller re-evaluates the real server only then.
 */
export function recordVote(
  slots: VoteSlots,
  slot: number,
  code: number,
  weight: number | undefined,
  reason: string,
  pending: VotePending | undefined,
  now: number,
  ttlMs: number,
): boolean {
  const before = countedCode(slots, slot, now, ttlMs);
  const beforeWeight = slots.weight[slot];
  const newWeight = weight ?? NO_WEIGHT;
  slots.state[slot] = code;
  slots.receivedAt[slot] = now;
  slots.weight[slot] = newWeight;
  slots.reason[slot] = reason;
  slots.pending[slot] = pending;
  const expiry = now + ttlMs;
  if (expiry < slots.nextExpiryAt) slots.nextExpiryAt = expiry;
  const after = code === VOTE_ABSTAIN ? VOTE_NONE : code;
  return before !== after || (after === VOTE_UP && beforeWeight !== newWeight);
}

export function hasAnyVote(slots: VoteSlots, rs: number): boolean {
  const base = rs * slots.probes;
  for (let p = 0; p < slots.probes; p++) if (slots.state[base + p] !== VOTE_NONE) return true;
  return false;
}

export type ExpiryScan = {
  /** Real servers that lost a counted (up/down) vote and need a new verdict. */
  realServers: number[];
  /** Per probe index: how many of its votes expired in this scan, and the newest of them. */
  expiredPerProbe: Int32Array;
  newestPerProbe: Float64Array;
};

/**
 * Marks votes that expired since the last scan. Runs only when `now` passed `nextExpiryAt`, and then
 * recomputes the exact next expiry. Returns undefined when nothing newly expired.
 */
export function expireVotes(slots: VoteSlots, now: number, ttlMs: number): ExpiryScan | undefined {
  let scan: ExpiryScan | undefined;
  let next = Number.POSITIVE_INFINITY;
  const { probes, state, receivedAt } = slots;
  for (let slot = 0; slot < state.length; slot++) {
    const raw = state[slot]!;
    if (raw === VOTE_NONE || (raw & STALE_BIT) !== 0) continue;
    const at = receivedAt[slot]!;
    if (now - at <= ttlMs) {
      if (at + ttlMs < next) next = at + ttlMs;
      continue;
    }
    state[slot] = raw | STALE_BIT;
    scan ??= {
      realServers: [],
      expiredPerProbe: new Int32Array(probes),
      newestPerProbe: new Float64Array(probes),
    };
    const probe = slot % probes;
    const rs = (slot - probe) / probes;
    scan.expiredPerProbe[probe]!++;
    if (at > scan.newestPerProbe[probe]!) scan.newestPerProbe[probe] = at;
    if (raw !== VOTE_ABSTAIN && scan.realServers[scan.realServers.length - 1] !== rs) {
      scan.realServers.push(rs);
    }
  }
  slots.nextExpiryAt = next;
  return scan;
}

/** Copies one slot between stores (config reloads keep the votes of unchanged probes and servers). */
export function copyVote(from: VoteSlots, fromSlot: number, to: VoteSlots, toSlot: number): void {
  to.state[toSlot] = from.state[fromSlot]!;
  to.receivedAt[toSlot] = from.receivedAt[fromSlot]!;
  to.weight[toSlot] = from.weight[fromSlot]!;
  to.reason[toSlot] = from.reason[fromSlot]!;
  to.pending[toSlot] = from.pending[fromSlot];
  to.nextExpiryAt = Number.NEGATIVE_INFINITY;
}

const STATE_NAMES: readonly VoteState[] = ["abstain", "up", "down", "abstain"];

export function viewVote(
  slots: VoteSlots,
  slot: number,
  now: number,
  ttlMs: number,
  probe: string,
  site: string,
): VoteView {
  const value = slots.state[slot]! & VALUE_MASK;
  if (value === VOTE_NONE) return { probe, site, state: "missing", ageMs: null, reason: "" };
  const ageMs = now - slots.receivedAt[slot]!;
  const view: VoteView = {
    probe,
    site,
    state: ageMs <= ttlMs ? STATE_NAMES[value]! : "expired",
    ageMs,
    reason: slots.reason[slot]!,
  };
  const weight = slots.weight[slot]!;
  if (weight !== NO_WEIGHT) view.weight = weight;
  // An expired vote's flip is old news: the probe has said nothing since.
  const pending = slots.pending[slot];
  if (pending !== undefined && ageMs <= ttlMs) view.pending = pending;
  return view;
}
