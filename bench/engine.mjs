#!/usr/bin/env node
// Votes/s through the pure engine (`step`) for 10,000 real servers × 5 probes (100 services × 100 real
// servers, 5 sites with one probe each, quorum by site), in batches of 100 votes (one probe's view of one
// service); the time of one full decision round at that size; heap used. Bounded to ~15 s.
// Run after `npx tsc -b packages/engine`: `node bench/engine.mjs`.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parseConfig } from "@lvsq/config";
import { initialState, step } from "@lvsq/engine";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc");

const SERVICES = 100;
const SERVERS_PER_SERVICE = 100;
const SITES = 5;
const ROUND_MS = 2_000;
const STEADY_MS = 4_000;
const CHURN_MS = 4_000;

const rsAddress = (s, r) => `10.${s >> 8}.${s & 255}.${r + 1}:80`;
const probes = Array.from({ length: SITES }, (_, i) => ({ id: `probe-${i}`, site: `dc${i}` }));

const config = parseConfig(
  JSON.stringify({
    cluster: "bench",
    quorum: { by: "site", voteTtl: "6s", startupGrace: "0s" },
    sites: probes.map((p) => p.site),
    probes,
    services: Object.fromEntries(
      Array.from({ length: SERVICES }, (_, s) => [
        `svc${s}`,
        {
          vip: `192.0.${2 + (s >> 8)}.${s & 255}:80`,
          scheduler: "wrr",
          realServers: Array.from({ length: SERVERS_PER_SERVICE }, (_, r) => ({ address: rsAddress(s, r) })),
          fallback: [{ address: "127.0.0.1:80" }],
        },
      ]),
    ),
  }),
  "bench.yaml",
  { env: {} },
);

/** One reusable batch per (probe, service); `seq` and the vote states are rewritten before each send. */
const batches = probes.flatMap((probe) =>
  Array.from({ length: SERVICES }, (_, s) => ({
    v: 1,
    cluster: "bench",
    probe: probe.id,
    site: probe.site,
    service: `svc${s}`,
    seq: 0,
    sentAt: 0,
    intervalMs: ROUND_MS,
    votes: Array.from({ length: SERVERS_PER_SERVICE }, (_, r) => ({
      rs: rsAddress(s, r),
      state: "up",
      since: 0,
      latencyMs: 1,
      reason: "HTTP 200",
    })),
  })),
);
const seq = new Map(probes.map((p) => [p.id, 0]));

gc();
const heapBefore = process.memoryUsage().heapUsed;
let state = initialState(config, "bench");
let now = 1_000_000;

/** Sends one full round (every probe × every service) and returns the votes sent. */
function round(setState) {
  let votes = 0;
  for (const batch of batches) {
    batch.seq = seq.get(batch.probe) + 1;
    seq.set(batch.probe, batch.seq);
    if (setState) for (let r = 0; r < batch.votes.length; r++) setState(batch, r);
    const result = step(state, { type: "votes", batch, now });
    state = result.state;
    votes += batch.votes.length;
    now += 1;
  }
  now += ROUND_MS - batches.length;
  state = step(state, { type: "tick", now }).state;
  return votes;
}

function measure(durationMs, setState) {
  let votes = 0;
  const started = performance.now();
  let rounds = 0;
  while (performance.now() - started < durationMs) {
    votes += round(setState === undefined ? undefined : (batch, r) => setState(batch, r, rounds));
    rounds++;
  }
  return (votes / (performance.now() - started)) * 1000;
}

// Warm up: everything up (first round decides 10,000 rs-up), then a few steady rounds for the JIT.
round();
for (let i = 0; i < 3; i++) round();

const steady = measure(STEADY_MS);
// Churn: each round 1% of the real servers (a different 100 each time) flip, seen by every probe.
const churn = measure(CHURN_MS, (batch, r, k) => {
  const s = Number(batch.service.slice(3));
  batch.votes[r].state = (s * SERVERS_PER_SERVICE + r) % 100 === k % 100 ? "down" : "up";
});
round((batch, r) => {
  batch.votes[r].state = "up";
});

function timedRound(stateName) {
  const started = performance.now();
  round((batch, r) => {
    batch.votes[r].state = stateName;
  });
  return performance.now() - started;
}
const downMs = timedRound("down");
const upMs = timedRound("up");

const reloadStarted = performance.now();
state = step(state, { type: "config", config, now }).state;
const reloadMs = performance.now() - reloadStarted;

gc();
const heapAfter = process.memoryUsage().heapUsed;
const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);
const fmt = (n) => Math.round(n).toLocaleString("en-US");

console.log(`engine: ${SERVICES * SERVERS_PER_SERVICE} real servers × ${SITES} probes, batches of 100 votes`);
console.log(`  votes through step (steady, all up): ${fmt(steady)} votes/s`);
console.log(`  votes through step (1% of servers flip per round): ${fmt(churn)} votes/s`);
console.log(`  full decision round, every server goes down (50,000 votes): ${downMs.toFixed(1)} ms`);
console.log(`  full decision round, every server comes back (50,000 votes): ${upMs.toFixed(1)} ms`);
console.log(`  config reload (re-decide all 10,000): ${reloadMs.toFixed(1)} ms`);
console.log(`  heap used by the engine state: ${mb(heapAfter - heapBefore)} MB`);
console.log(`  heap used (whole process): ${mb(heapAfter)} MB`);
