import { type Threshold, thresholdCount } from "@lvsq/config";
import type { Tally, Verdict } from "./types.js";
import { countedCode, VOTE_DOWN, VOTE_UP, type VoteSlots } from "./vote-store.js";

/**
 * Quorum over one real server's fresh votes.
 *
 * Site verdict (by: site), from the site's fresh up/down votes (abstain and expired do not count):
 *
 *   | fresh up vs down in the site | site verdict |
 *   |------------------------------|--------------|
 *   | up > down                    | up           |
 *   | down > up                    | down         |
 *   | up = down (including 0 = 0)  | none         |
 *
 * Service verdict, counting site verdicts (or, by: probe, each probe's fresh vote) against the thresholds
 * taken over the voters configured for the service:
 *
 *   | up >= upNeeded | down >= downNeeded | verdict       | effect                     |
 *   |----------------|--------------------|---------------|----------------------------|
 *   | yes            | no                 | up            | rs-up (if it was down)     |
 *   | no             | yes                | down          | rs-down (if it was up)     |
 *   | no             | no                 | fail-static   | keep the current state     |
 *   | yes            | yes                | conflict      | keep the current state     |
 */

/** How one service's probes map onto voters. Site counters are scratch space reused on every count. */
export type QuorumLayout = {
  by: "site" | "probe";
  probes: number;
  /** For each probe index of the service, the index of its site among `sites`. */
  siteOfProbe: Int32Array;
  sites: number;
  total: number;
  upNeeded: number;
  downNeeded: number;
  siteUp: Int32Array;
  siteDown: Int32Array;
};

/**
 * Builds the layout for a service whose probes sit in the given sites (one entry per probe, in probe
 * order). With by: site, the voters are the distinct sites that have at least one of these probes.
 */
export function createLayout(
  by: "site" | "probe",
  probeSites: readonly string[],
  up: Threshold,
  down: Threshold,
): { layout: QuorumLayout; siteNames: string[] } {
  const siteNames: string[] = [];
  const siteOfProbe = new Int32Array(probeSites.length);
  probeSites.forEach((site, p) => {
    let index = siteNames.indexOf(site);
    if (index < 0) index = siteNames.push(site) - 1;
    siteOfProbe[p] = index;
  });
  const total = by === "site" ? siteNames.length : probeSites.length;
  return {
    siteNames,
    layout: {
      by,
      probes: probeSites.length,
      siteOfProbe,
      sites: siteNames.length,
      total,
      // A threshold of 0 would let silence decide; at least one voter must speak.
      upNeeded: Math.max(1, thresholdCount(up, total)),
      downNeeded: Math.max(1, thresholdCount(down, total)),
      siteUp: new Int32Array(siteNames.length),
      siteDown: new Int32Array(siteNames.length),
    },
  };
}

/** Mutable counts, reused across calls so counting allocates nothing. */
export type Counts = { up: number; down: number };

export function countVoters(
  slots: VoteSlots,
  rs: number,
  now: number,
  ttlMs: number,
  layout: QuorumLayout,
  out: Counts,
): void {
  const base = rs * layout.probes;
  let up = 0;
  let down = 0;
  if (layout.by === "probe") {
    for (let p = 0; p < layout.probes; p++) {
      const code = countedCode(slots, base + p, now, ttlMs);
      if (code === VOTE_UP) up++;
      else if (code === VOTE_DOWN) down++;
    }
  } else {
    const { siteUp, siteDown, siteOfProbe } = layout;
    siteUp.fill(0);
    siteDown.fill(0);
    for (let p = 0; p < layout.probes; p++) {
      const code = countedCode(slots, base + p, now, ttlMs);
      if (code === VOTE_UP) siteUp[siteOfProbe[p]!]!++;
      else if (code === VOTE_DOWN) siteDown[siteOfProbe[p]!]!++;
    }
    for (let s = 0; s < layout.sites; s++) {
      const verdict = siteVerdict(siteUp[s]!, siteDown[s]!);
      if (verdict === "up") up++;
      else if (verdict === "down") down++;
    }
  }
  out.up = up;
  out.down = down;
}

export function siteVerdict(up: number, down: number): "up" | "down" | "none" {
  if (up > down) return "up";
  if (down > up) return "down";
  return "none";
}

export function decideVerdict(
  counts: Counts,
  layout: Pick<QuorumLayout, "upNeeded" | "downNeeded">,
): Verdict {
  const upReached = counts.up >= layout.upNeeded;
  const downReached = counts.down >= layout.downNeeded;
  if (upReached && downReached) return "conflict";
  if (upReached) return "up";
  if (downReached) return "down";
  return "fail-static";
}

export function tallyOf(counts: Counts, layout: QuorumLayout): Tally {
  return {
    by: layout.by,
    up: counts.up,
    down: counts.down,
    total: layout.total,
    upNeeded: layout.upNeeded,
    downNeeded: layout.downNeeded,
  };
}

const ascending = (a: number, b: number) => a - b;

/**
 * The weight dynamic checks (exec) ask for: the lower median of the weights carried by fresh up votes, so
 * one probe alone cannot set it. -1 when no fresh up vote carries a weight.
 */
export function dynamicWeight(
  slots: VoteSlots,
  rs: number,
  now: number,
  ttlMs: number,
  scratch: number[],
): number {
  scratch.length = 0;
  const base = rs * slots.probes;
  for (let p = 0; p < slots.probes; p++) {
    const weight = slots.weight[base + p]!;
    if (weight >= 0 && countedCode(slots, base + p, now, ttlMs) === VOTE_UP) scratch.push(weight);
  }
  if (scratch.length === 0) return -1;
  if (scratch.length > 1) scratch.sort(ascending);
  return scratch[(scratch.length - 1) >> 1]!;
}
