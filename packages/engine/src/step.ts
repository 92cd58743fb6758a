import type { FleetConfig } from "@lvsq/config";
import { canonicalRealServer, type IpvsTable, type VoteBatch } from "@lvsq/protocol";
import { applyAdmin, expireDrains } from "./admin.js";
import { installConfig } from "./config-state.js";
import { evaluate, type StepContext, settle, touch } from "./decide.js";
import { rebuildService } from "./desired.js";
import { type DirectorState, emptyCounters, type ServiceState } from "./model.js";
import { adoptKernel } from "./observe.js";
import type { DropReason, DropReport, EngineEvent, EngineInput } from "./types.js";
import { expireVotes, hasAnyVote, recordVote, voteCode } from "./vote-store.js";

/** What one `step` returns. */
export type StepResult = {
  /** The same state object, updated: keep only the latest one (see `step`). */
  state: DirectorState;
  /** All owned virtual services; unchanged service objects are reused, so `===` finds what changed. */
  desired: IpvsTable;
  events: EngineEvent[];
  /** Whether `desired` differs from the previous step's: plan and apply only then. */
  changed: boolean;
  /** Service ids whose desired entry changed or disappeared in this step. */
  changedServices: string[];
  /** Set when a vote batch was dropped in whole or in part. */
  dropped: DropReport | undefined;
};

/** A fresh state for a config. `directorId` is recorded for `explain`; decisions do not depend on it. */
export function initialState(config: FleetConfig, directorId?: string): DirectorState {
  const state: DirectorState = {
    config,
    directorId,
    services: new Map(),
    byKey: [],
    probeSites: new Map(),
    lastSeq: new Map(),
    ownedKeys: new Set(),
    startedAt: undefined,
    graceOver: false,
    lastNow: Number.NEGATIVE_INFINITY,
    desired: { services: [] },
    counters: emptyCounters(),
    drainDeadlines: 0,
    touched: [],
  };
  installConfig(state, config);
  const ctx = context(state, 0);
  for (const svc of state.byKey) rebuildService(ctx, svc);
  state.desired = { services: state.byKey.map((svc) => svc.entry!) };
  return state;
}

function context(state: DirectorState, now: number): StepContext {
  const graceEndsAt = (state.startedAt ?? now) + state.config.quorum.startupGraceMs;
  return {
    state,
    now,
    ttlMs: state.config.quorum.voteTtlMs,
    inGrace: !state.graceOver && now < graceEndsAt,
    events: [],
    dropped: undefined,
    changedServices: [],
  };
}

/**
 * The engine: one input in, the updated state, the desired table and the events out. Deterministic and
 * free of I/O, clocks and randomness. `state` is updated in place and returned: keep only the latest one.
 * Time never runs backwards inside the engine (an earlier `now` is treated as the latest seen).
 */
export function step(state: DirectorState, input: EngineInput): StepResult {
  // `>` rather than Math.max so a NaN time falls back to the latest seen instead of poisoning the state.
  const now =
    input.now > state.lastNow || state.lastNow === Number.NEGATIVE_INFINITY ? input.now : state.lastNow;
  state.lastNow = now;
  state.startedAt ??= now;
  let ctx = context(state, now);
  if (!state.graceOver && !ctx.inGrace) endGrace(ctx);
  switch (input.type) {
    case "votes":
      applyVotes(ctx, input.batch);
      break;
    case "tick":
      applyTick(ctx);
      break;
    case "observed":
      adoptKernel(ctx, input.table);
      break;
    case "admin":
      applyAdmin(ctx, input.command);
      break;
    case "config":
      ctx = applyConfig(ctx, input.config);
      break;
  }
  return finish(ctx);
}

function endGrace(ctx: StepContext): void {
  ctx.state.graceOver = true;
  reevaluateAll(ctx);
}

/** Re-decides every real server that has votes, and rebuilds every service. O(fleet): rare inputs only. */
function reevaluateAll(ctx: StepContext): void {
  for (const svc of ctx.state.byKey) {
    touch(ctx, svc, true);
    for (let rs = 0; rs < svc.addresses.length; rs++) {
      if (hasAnyVote(svc.votes, rs)) evaluate(ctx, svc, rs);
    }
  }
}

function drop(ctx: StepContext, reason: DropReason, votes: number, detail: string): undefined {
  ctx.state.counters.dropped[reason] += reason === "unknown-real-server" ? votes : 1;
  ctx.dropped = { reason, votes, detail };
  return undefined;
}

/** The checks a director applies to every batch (docs/decisions.md, "Votes"), in order; the first failure drops it. */
function admitBatch(ctx: StepContext, batch: VoteBatch): ServiceState | undefined {
  const { state } = ctx;
  const size = batch.votes.length;
  if (batch.cluster !== state.config.cluster) return drop(ctx, "wrong-cluster", size, batch.cluster);
  const site = state.probeSites.get(batch.probe);
  if (site === undefined) return drop(ctx, "unknown-probe", size, batch.probe);
  if (site !== batch.site) return drop(ctx, "site-mismatch", size, `${batch.probe} is in ${site}`);
  // Order holds only while the last accepted batch is fresh (within voteTtl). So one batch with an absurd
  // seq (far future, forged or a bug), or a probe restarted with its clock stepped back, silences that
  // probe for one voteTtl at most, never until a restart; a replay is dropped while the probe is alive.
  const anchor = state.lastSeq.get(batch.probe);
  const behind = anchor !== undefined && batch.seq <= anchor.seq;
  if (behind && ctx.now - anchor.acceptedAt <= ctx.ttlMs) {
    return drop(ctx, "replayed-seq", size, `seq ${batch.seq} <= ${anchor.seq}`);
  }
  const svc = state.services.get(batch.service);
  if (svc === undefined) return drop(ctx, "unknown-service", size, batch.service);
  if (!svc.probeIndex.has(batch.probe)) {
    return drop(ctx, "probe-not-assigned", size, `${batch.probe} does not check ${batch.service}`);
  }
  // Only a batch that counts moves the probe's seq: a dropped (e.g. forged) one must not silence it.
  if (behind) {
    state.counters.seqResets++;
    ctx.events.push({
      type: "seq-reset",
      service: batch.service,
      probe: batch.probe,
      site,
      fromSeq: anchor.seq,
      toSeq: batch.seq,
      silentMs: ctx.now - anchor.acceptedAt,
    });
  }
  state.lastSeq.set(batch.probe, { seq: batch.seq, acceptedAt: ctx.now });
  return svc;
}

/** O(votes in the batch): each vote is stored in place and its real server re-decided only if it changed. */
function applyVotes(ctx: StepContext, batch: VoteBatch): void {
  const svc = admitBatch(ctx, batch);
  if (svc === undefined) return;
  const { state, now, ttlMs } = ctx;
  const size = batch.votes.length;
  const probe = svc.probeIndex.get(batch.probe)!;
  if (svc.votes.nextExpiryAt < now) expire(ctx, svc);
  // Removals held back by the limit are retried whenever the service is looked at.
  if (svc.held.size > 0) touch(ctx, svc, false);
  state.counters.batches++;
  const probes = svc.layout.probes;
  let unknown = 0;
  let firstUnknown = "";
  for (let v = 0; v < size; v++) {
    const vote = batch.votes[v]!;
    let rs = svc.rsIndex.get(vote.rs);
    if (rs === undefined) {
      const canonical = canonicalRealServer(vote.rs);
      rs = canonical === undefined ? undefined : svc.rsIndex.get(canonical);
      if (rs === undefined) {
        if (unknown++ === 0) firstUnknown = vote.rs;
        continue;
      }
    }
    const slot = rs * probes + probe;
    if (
      recordVote(svc.votes, slot, voteCode(vote.state), vote.weight, vote.reason, vote.pending, now, ttlMs)
    ) {
      evaluate(ctx, svc, rs);
    }
  }
  state.counters.votes += size - unknown;
  if (unknown > 0) drop(ctx, "unknown-real-server", unknown, firstUnknown);
}

/** Votes older than voteTtl become abstentions: one `stale` event per probe and service per silence. */
function expire(ctx: StepContext, svc: ServiceState): void {
  const scan = expireVotes(svc.votes, ctx.now, ctx.ttlMs);
  if (scan === undefined) return;
  touch(ctx, svc, false);
  scan.expiredPerProbe.forEach((count, probe) => {
    if (count === 0) return;
    ctx.events.push({
      type: "stale",
      service: svc.id,
      probe: svc.probeIds[probe]!,
      site: svc.siteNames[svc.layout.siteOfProbe[probe]!]!,
      realServers: count,
      ageMs: ctx.now - scan.newestPerProbe[probe]!,
    });
  });
  for (const rs of scan.realServers) evaluate(ctx, svc, rs);
}

function applyTick(ctx: StepContext): void {
  for (const svc of ctx.state.byKey) {
    if (svc.votes.nextExpiryAt < ctx.now) expire(ctx, svc);
    if (svc.held.size > 0) touch(ctx, svc, false);
  }
  expireDrains(ctx);
}

function applyConfig(ctx: StepContext, config: FleetConfig): StepContext {
  // Services touched so far in this step belong to the old config; the reload re-decides everything.
  for (const svc of ctx.state.touched) svc.touched = false;
  ctx.state.touched.length = 0;
  const removed = installConfig(ctx.state, config);
  const next = context(ctx.state, ctx.now);
  next.events = ctx.events;
  for (const svc of removed) {
    next.events.push({ type: "service-removed", service: svc.id, key: svc.key });
    next.changedServices.push(svc.id);
  }
  reevaluateAll(next);
  return next;
}

function finish(ctx: StepContext): StepResult {
  const { state } = ctx;
  for (let i = 0; i < state.touched.length; i++) settle(ctx, state.touched[i]!);
  for (const svc of state.touched) {
    if (svc.dirty && rebuildService(ctx, svc)) ctx.changedServices.push(svc.id);
    svc.dirty = false;
    svc.touched = false;
  }
  state.touched.length = 0;
  const changed = ctx.changedServices.length > 0;
  if (changed) state.desired = { services: state.byKey.map((svc) => svc.entry!) };
  return {
    state,
    desired: state.desired,
    events: ctx.events,
    changed,
    changedServices: ctx.changedServices,
    dropped: ctx.dropped,
  };
}
