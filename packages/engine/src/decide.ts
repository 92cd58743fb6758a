import {
  type DirectorState,
  HEALTH_DOWN,
  HEALTH_UP,
  ruleCode,
  type ServiceState,
  VERDICT_CONFLICT,
  VERDICT_DOWN,
  VERDICT_FAIL_STATIC,
  VERDICT_PENDING,
  VERDICT_UP,
} from "./model.js";
import { countVoters, decideVerdict, dynamicWeight, tallyOf } from "./quorum.js";
import type { DropReport, EngineEvent, Verdict, VoteView } from "./types.js";
import { viewVote } from "./vote-store.js";

/** What one step works with; `inGrace` is true until `startupGraceMs` after the first input. */
export type StepContext = {
  state: DirectorState;
  now: number;
  ttlMs: number;
  inGrace: boolean;
  events: EngineEvent[];
  dropped: DropReport | undefined;
  changedServices: string[];
};

/** Marks a service for settling and (if `dirty`) a rebuild at the end of the step. */
export function touch(ctx: StepContext, svc: ServiceState, dirty: boolean): void {
  if (dirty) svc.dirty = true;
  if (svc.touched) return;
  svc.touched = true;
  ctx.state.touched.push(svc);
}

export function voteViews(svc: ServiceState, rs: number, now: number, ttlMs: number): VoteView[] {
  const views: VoteView[] = [];
  const base = rs * svc.layout.probes;
  for (let p = 0; p < svc.layout.probes; p++) {
    const site = svc.siteNames[svc.layout.siteOfProbe[p]!]!;
    views.push(viewVote(svc.votes, base + p, now, ttlMs, svc.probeIds[p]!, site));
  }
  return views;
}

export function rsEvent(ctx: StepContext, svc: ServiceState, rs: number) {
  return {
    service: svc.id,
    rs: svc.addresses[rs]!,
    tally: tallyOf(svc.counts, svc.layout),
    votes: voteViews(svc, rs, ctx.now, ctx.ttlMs),
  };
}

const VERDICT_CODES: Record<Verdict, number> = {
  up: VERDICT_UP,
  down: VERDICT_DOWN,
  "fail-static": VERDICT_FAIL_STATIC,
  conflict: VERDICT_CONFLICT,
};

function isNoQuorum(code: number): boolean {
  return code === VERDICT_FAIL_STATIC || code === VERDICT_CONFLICT;
}

function setVerdict(svc: ServiceState, rs: number, code: number): void {
  const old = svc.verdict[rs]!;
  if (old === code) return;
  if (isNoQuorum(old)) svc.noQuorum--;
  if (old === VERDICT_DOWN) svc.downVerdicts--;
  if (isNoQuorum(code)) svc.noQuorum++;
  if (code === VERDICT_DOWN) svc.downVerdicts++;
  svc.verdict[rs] = code;
}

function pruneRemovals(svc: ServiceState, now: number): void {
  const perMs = svc.config.removalLimit?.perMs ?? 0;
  while (svc.removals.length > 0 && svc.removals[0]! + perMs <= now) svc.removals.shift();
}

/** Whether one more removal fits in the window. Every real server genuinely down bypasses the limit. */
function removalAllowed(svc: ServiceState, now: number): boolean {
  if (svc.removalMax === undefined) return true;
  if (svc.downVerdicts === svc.addresses.length) return true;
  pruneRemovals(svc, now);
  return svc.removals.length < svc.removalMax;
}

/**
 * Re-counts one real server's votes and applies the verdict: the decision table of docs/decisions.md.
 * Admin overrides do not change health; they are applied when the table is built.
 */
export function evaluate(ctx: StepContext, svc: ServiceState, rs: number): void {
  const { now, ttlMs } = ctx;
  countVoters(svc.votes, rs, now, ttlMs, svc.layout, svc.counts);
  const verdict = decideVerdict(svc.counts, svc.layout);
  if (verdict === "up" || verdict === "down") svc.decided[rs] = 1;
  setVerdict(svc, rs, svc.decided[rs] === 0 ? VERDICT_PENDING : VERDICT_CODES[verdict]);
  touch(ctx, svc, false);
  if (verdict !== "down") {
    svc.held.delete(rs);
    svc.limitHeld[rs] = 0;
  }
  if (verdict === "fail-static" || verdict === "conflict") {
    svc.rule[rs] = ruleCode(verdict === "conflict" ? "quorum-conflict" : "fail-static");
    return;
  }
  if (verdict === "up" && svc.health[rs] === HEALTH_DOWN && ctx.inGrace && svc.foundInKernel) {
    // Grace keeps what the kernel had, both ways: a server it had out (or at weight 0) may be disabled or
    // drained by an operator whose override has not reached this director yet. It comes in once grace ends.
    svc.rule[rs] = ruleCode("startup-grace");
    return;
  }
  if (verdict === "up") {
    const dynamic = dynamicWeight(svc.votes, rs, now, ttlMs, svc.weightScratch);
    const weight = dynamic >= 0 ? dynamic : svc.config.realServers[rs]!.weight;
    svc.rule[rs] = ruleCode("quorum-up");
    if (svc.health[rs] === HEALTH_DOWN) {
      svc.health[rs] = HEALTH_UP;
      svc.upWeight[rs] = weight;
      svc.changedAt[rs] = now;
      touch(ctx, svc, true);
      ctx.events.push({ type: "rs-up", weight, ...rsEvent(ctx, svc, rs) });
    } else if (svc.upWeight[rs] !== weight) {
      const from = svc.upWeight[rs]!;
      svc.upWeight[rs] = weight;
      touch(ctx, svc, true);
      ctx.events.push({ type: "weight-changed", from, to: weight, ...rsEvent(ctx, svc, rs) });
    }
    return;
  }
  if (svc.health[rs] === HEALTH_DOWN) {
    svc.rule[rs] = ruleCode("quorum-down");
    svc.held.delete(rs);
    return;
  }
  if (ctx.inGrace) {
    svc.rule[rs] = ruleCode("startup-grace");
    return;
  }
  if (!removalAllowed(svc, now)) {
    svc.rule[rs] = ruleCode("removal-limited");
    svc.held.add(rs);
    if (svc.limitHeld[rs] === 0) {
      svc.limitHeld[rs] = 1;
      const perMs = svc.config.removalLimit!.perMs;
      ctx.events.push({
        type: "removal-limited",
        removedInWindow: svc.removals.length,
        max: svc.removalMax!,
        perMs,
        retryAt: svc.removals[0]! + perMs,
        ...rsEvent(ctx, svc, rs),
      });
    }
    return;
  }
  svc.held.delete(rs);
  svc.limitHeld[rs] = 0;
  svc.health[rs] = HEALTH_DOWN;
  svc.rule[rs] = ruleCode("quorum-down");
  svc.changedAt[rs] = now;
  if (svc.removalMax !== undefined) svc.removals.push(now);
  touch(ctx, svc, true);
  ctx.events.push({ type: "rs-down", action: svc.config.onDown, ...rsEvent(ctx, svc, rs) });
}

/**
 * End-of-step work for a touched service: retry removals the limit held back once the window has room
 * (or every server is down), and report entering or leaving the no-quorum condition once per transition.
 */
export function settle(ctx: StepContext, svc: ServiceState): void {
  if (svc.held.size > 0 && removalAllowed(svc, ctx.now)) {
    for (const rs of [...svc.held]) evaluate(ctx, svc, rs);
  }
  if (ctx.inGrace) return;
  if (svc.noQuorum > 0 && !svc.unreachableReported) {
    svc.unreachableReported = true;
    const sample = svc.verdict.findIndex(isNoQuorum);
    countVoters(svc.votes, sample, ctx.now, ctx.ttlMs, svc.layout, svc.counts);
    ctx.events.push({
      type: "quorum-unreachable",
      service: svc.id,
      realServers: svc.noQuorum,
      total: svc.addresses.length,
      sample: rsEvent(ctx, svc, sample),
    });
  } else if (svc.noQuorum === 0 && svc.unreachableReported) {
    svc.unreachableReported = false;
    ctx.events.push({ type: "quorum-restored", service: svc.id, total: svc.addresses.length });
  }
}
