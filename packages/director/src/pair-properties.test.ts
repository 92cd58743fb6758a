import { buckets } from "@lvsq/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PairSim } from "./pair-sim.js";
import { SIM_RS } from "./pair-sim-world.js";

// Random schedules over a simulated pair (three directors in one pair, so two can fight over the lease
// while the third follows): votes, time, lease rounds, crashes, restarts, partitions, message drops and
// delays, one bucket failing alone, buckets lost and made again, watches dying silently, and operators'
// admin commands, wall clocks skewed and stepped, rolling leaseTtl changes (KV writes applied with their
// reply lost are modelled, see replyLostPercent). The invariants of docs/pairs.md are checked after every step, convergence after the faults heal.

const DIRECTORS = ["a", "b", "c"] as const;
const TTL_MS = 3000;

type Step =
  | { t: "flip"; rs: number; down: boolean }
  | { t: "round" }
  | { t: "advance"; ms: number }
  | { t: "poll"; d: number }
  | { t: "partition"; d: number; on: boolean }
  | { t: "crash"; d: number }
  | { t: "restart"; d: number }
  | { t: "rogue"; back: number }
  | { t: "bucket"; which: number; fault: "ok" | "unavailable" }
  | { t: "reset"; which: number }
  | { t: "kill-watch"; d: number }
  | { t: "admin"; rs: number; action: "drain" | "disable" | "enable" }
  | { t: "clock-step"; d: number; ms: number }
  | { t: "retime"; d: number; ttlMs: number };

const BUCKETS = [buckets.leases("sim"), buckets.desired("sim"), buckets.admin("sim")] as const;
const bucketIndex = fc.integer({ min: 0, max: BUCKETS.length - 1 });

const director = fc.integer({ min: 0, max: DIRECTORS.length - 1 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("flip" as const),
      rs: fc.integer({ min: 0, max: 2 }),
      down: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("round" as const) }) },
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: 50, max: 2500 }) }),
  },
  { weight: 5, arbitrary: fc.record({ t: fc.constant("poll" as const), d: director }) },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant("partition" as const), d: director, on: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("crash" as const), d: director }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("restart" as const), d: director }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("rogue" as const), back: fc.integer({ min: 1, max: 3 }) }),
  },
);
const faultArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("bucket" as const),
      which: bucketIndex,
      fault: fc.constantFrom("ok" as const, "unavailable" as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("reset" as const), which: bucketIndex }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("kill-watch" as const), d: director }) },
  // A host's wall clock stepped (NTP, a VM resumed): the lease and vote ages run on the monotonic clock.
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("clock-step" as const),
      d: director,
      ms: fc.integer({ min: -10_000, max: 10_000 }),
    }),
  },
  // A rolling change of leaseTtl: one director restarts with another lease time than its partners'.
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("retime" as const),
      d: director,
      ttlMs: fc.constantFrom(1500, 6000, TTL_MS),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("admin" as const),
      rs: fc.integer({ min: 0, max: 2 }),
      action: fc.constantFrom("drain" as const, "disable" as const, "enable" as const),
    }),
  },
);
const scheduleArb = fc.record({
  steps: fc.array(fc.oneof({ weight: 6, arbitrary: stepArb }, { weight: 1, arbitrary: faultArb }), {
    minLength: 5,
    maxLength: 40,
  }),
  // Writes applied with their reply lost (MemoryNetwork.setKvFaultHook) stay at 0 in npm test, so the fixed
  // seed replays the schedules it always has; searches at 1, 5 and 10 % (LVSQ_PAIR_REPLY_LOST=N) found the
  // cases now kept in FOUND, and 4,000 schedules at each were green after the last fix.
  replyLostPercent: fc.constant(Number(process.env.LVSQ_PAIR_REPLY_LOST ?? 0)),
  staleReadPercent: fc.integer({ min: 0, max: 30 }),
  // How far each director's wall clock is from the server's at the start.
  skewsMs: fc.array(fc.integer({ min: -5000, max: 5000 }), {
    minLength: DIRECTORS.length,
    maxLength: DIRECTORS.length,
  }),
  dropPercent: fc.integer({ min: 0, max: 30 }),
  maxDelayMs: fc.integer({ min: 0, max: 1500 }),
  seed: fc.integer(),
});

/** A tiny deterministic RNG for the fault hook (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The table votes and overrides call for: disabled out, drained at weight 0, the fallback while none carries weight. */
function expectedMembers(sim: PairSim, admin: Map<string, string>): string[] {
  const entries: string[] = [];
  let healthy = 0;
  SIM_RS.forEach((rs, i) => {
    const action = admin.get(rs);
    if (action === "disable") return;
    if (action === "drain") entries.push(`${rs}@0`);
    else if (sim.truth.get(rs) === "up") {
      entries.push(`${rs}@${i + 1}`);
      healthy += i + 1;
    }
  });
  if (healthy === 0) entries.push("127.0.0.1:80@1");
  return entries.sort();
}

async function members(sim: PairSim, id: string): Promise<string[]> {
  const table = await sim.kernel(id);
  return (table.services[0]?.realServers ?? []).map((rs) => `${rs.address}@${rs.weight}`).sort();
}

async function checkInvariants(sim: PairSim, frozen: Map<string, number>): Promise<void> {
  // At most one epoch is written at a time: in revision order, desired-record epochs never go back.
  // (Within one generation of the desired bucket: a bucket made again restarts its revisions.)
  const writes = sim.writes
    .filter((w) => !w.rogue)
    .sort((x, y) => x.generation - y.generation || x.revision - y.revision);
  expect(sim.deciders().length).toBeLessThanOrEqual(1);
  for (let i = 1; i < writes.length; i++)
    if (writes[i]!.generation === writes[i - 1]!.generation)
      expect(writes[i]!.epoch).toBeGreaterThanOrEqual(writes[i - 1]!.epoch);
  for (const d of sim.directors.values()) {
    // A director never applies an older epoch (within one incarnation and one generation of the desired
    // bucket: once it is made again, the next lease holder's epoch is where the pair's epochs start), and
    // never applies without one.
    for (let i = 0; i < d.submits.length; i++) {
      const [previous, submit] = [d.submits[i - 1], d.submits[i]!];
      expect(submit.epoch).toBeGreaterThanOrEqual(1);
      if (previous && previous.generation === submit.generation)
        expect(submit.epoch).toBeGreaterThanOrEqual(previous.epoch);
      // A follower never takes out a server its own votes have up by a fresh quorum (follower-hold.ts).
      expect(submit.removedWhileUp, `${d.id}'s table at ${submit.at}`).toEqual([]);
    }
    // Cut off from NATS, a director keeps its table exactly as it is.
    const at = frozen.get(d.id);
    if (at !== undefined) expect(d.applies.length).toBe(at);
  }
}

type Schedule = {
  steps: Step[];
  replyLostPercent: number;
  staleReadPercent?: number;
  skewsMs?: number[];
  dropPercent: number;
  maxDelayMs: number;
  seed: number;
};

async function runSchedule(schedule: Schedule): Promise<void> {
  const sim = new PairSim({ directors: DIRECTORS });
  const random = rng(schedule.seed);
  const frozen = new Map<string, number>();
  const rogueEpochs: number[] = [];
  const admin = new Map<string, string>();
  try {
    await sim.init();
    sim.setFaults((delivery) => {
      if (delivery.kind === "message" && random() * 100 < schedule.dropPercent) return "drop";
      return Math.floor(random() * schedule.maxDelayMs);
    });
    // A write applied with its reply lost: the writer only learns "timeout" (never the observer).
    // A read answered by a replica one write behind (reads from the stream leader are never stale).
    sim.network.setKvFaultHook((op) => {
      if (op.client === "observer" || op.client === "probes") return "ok";
      // (No draw at 0 %: a schedule recorded before stale reads existed replays exactly.)
      const stale = schedule.staleReadPercent ?? 0;
      if (op.op === "get") return stale > 0 && random() * 100 < stale ? "stale" : "ok";
      return ["put", "create", "update", "delete"].includes(op.op) &&
        random() * 100 < schedule.replyLostPercent
        ? "reply-lost"
        : "ok";
    });
    DIRECTORS.forEach((id, i) => {
      sim.director(id).skewMs = schedule.skewsMs?.[i] ?? 0;
    });
    for (const id of DIRECTORS) await sim.start(id);
    for (const step of schedule.steps) {
      const id = "d" in step ? DIRECTORS[step.d]! : "";
      switch (step.t) {
        case "flip":
          sim.truth.set(SIM_RS[step.rs]!, step.down ? "down" : "up");
          await sim.voteRound();
          break;
        case "round":
          await sim.voteRound();
          break;
        case "advance":
          await sim.advance(step.ms);
          break;
        case "poll":
          await sim.poll(id);
          break;
        case "partition":
          sim.partition(id, step.on);
          if (step.on) frozen.set(id, sim.director(id).applies.length);
          else frozen.delete(id);
          await sim.settle();
          break;
        case "crash":
          await sim.crash(id);
          break;
        case "rogue": {
          // An unfenced late write of an older epoch (only meaningful once a newer epoch exists).
          if (sim.network.bucketFault(BUCKETS[1]) !== "ok") break; // the late write cannot land either
          const newest = Math.max(0, ...sim.writes.map((w) => w.epoch));
          if (newest - step.back >= 1) rogueEpochs.push(newest - step.back);
          if (newest - step.back >= 1) await sim.rogueWrite(newest - step.back, [SIM_RS[0]!]);
          break;
        }
        case "restart":
          if (frozen.has(id)) break;
          await sim.start(id);
          break;
        case "bucket":
          sim.network.setBucketFault(BUCKETS[step.which]!, step.fault);
          break;
        case "reset":
          // An admin bucket made again has lost the operators' records: that is what the pair then obeys.
          if (step.which === 2) admin.clear();
          await sim.resetBucket(BUCKETS[step.which]!);
          break;
        case "kill-watch":
          sim.network.killWatchers(id);
          break;
        case "clock-step":
          sim.director(id).skewMs += step.ms;
          break;
        case "retime":
          if (frozen.has(id)) break;
          await sim.crash(id);
          sim.director(id).leaseTtlMs = step.ttlMs;
          await sim.start(id);
          break;
        case "admin": {
          const bucketDown = sim.network.bucketFault(BUCKETS[2]) !== "ok";
          if (bucketDown) break; // the operator's command fails; nothing changes
          await sim.adminWrite(SIM_RS[step.rs]!, step.action);
          if (step.action === "enable") admin.delete(SIM_RS[step.rs]!);
          else admin.set(SIM_RS[step.rs]!, step.action);
          break;
        }
      }
      await checkInvariants(sim, frozen);
    }
    // Heal everything; within a few lease times the pair converges on one leader and identical tables.
    sim.setFaults(undefined);
    sim.network.setKvFaultHook(undefined);
    for (const bucket of BUCKETS) sim.network.setBucketFault(bucket, "ok");
    for (const id of DIRECTORS) sim.partition(id, false);
    frozen.clear();
    // The rolling lease-time change completes: every director runs the fleet's leaseTtl again.
    for (const id of DIRECTORS)
      if (sim.director(id).leaseTtlMs !== undefined) {
        await sim.crash(id);
        sim.director(id).leaseTtlMs = undefined;
      }
    for (const id of DIRECTORS) await sim.start(id);
    for (let i = 0; i < 8; i++) {
      await sim.voteRound();
      await sim.advance(TTL_MS / 2);
      await sim.pollAll();
    }
    await sim.voteRound();
    await checkInvariants(sim, frozen);
    const agents = DIRECTORS.map((id) => sim.director(id).agent!);
    const leaders = agents.filter((a) => a.role === "leader");
    expect(leaders).toHaveLength(1);
    const leader = leaders[0]!;
    for (const agent of agents) {
      if (agent === leader) continue;
      expect(agent.role).toBe("follower");
      expect(agent.stats().appliedEpoch).toBe(leader.stats().epoch);
    }
    const expected = expectedMembers(sim, admin);
    for (const id of DIRECTORS) {
      const { role, stats } = { role: sim.director(id).agent!.role, stats: sim.director(id).agent!.stats() };
      const said = `${id}'s table (${role}, epoch ${stats.epoch}, applied epoch ${stats.appliedEpoch})`;
      expect(await members(sim, id), said).toEqual(expected);
    }
  } finally {
    await sim.dispose();
  }
}

/** Both buckets made again while a director is down; it restarts at once (two FOUND cases build on it). */
const BOTH_BUCKETS_MADE_AGAIN: Schedule = {
  steps: [
    { t: "crash", d: 2 },
    { t: "reset", which: 1 },
    { t: "reset", which: 0 },
    { t: "admin", rs: 0, action: "drain" },
    { t: "restart", d: 2 },
    { t: "advance", ms: 50 },
  ],
  replyLostPercent: 5,
  staleReadPercent: 0,
  dropPercent: 0,
  maxDelayMs: 2,
  seed: 0,
};

/** The seed npm test runs. A random search still finds open cases: see docs/pairs.md, "Known open cases". */
const FIXED_SEED = 20261202;

/** What the first two found schedules ran with: no lost replies, no dropped messages, deliveries within 2 ms. */
const NO_NETWORK_FAULTS = { replyLostPercent: 0, dropPercent: 0, maxDelayMs: 2 };

/** Schedules random searches found, kept once fixed (docs/pairs.md names each). */
const FOUND: Record<string, Schedule> = {
  // A follower saw the desired bucket made again in one round and the lease bucket in a later one: it kept
  // refusing the old epochs, and the new leader's term started at 1 (it had seen none): never followed.
  "the desired bucket, then the lease bucket made again in separate rounds: the epochs start over": {
    steps: [
      { t: "crash", d: 0 },
      { t: "reset", which: 1 },
      { t: "poll", d: 1 },
      { t: "reset", which: 0 },
      { t: "flip", rs: 0, down: false },
      { t: "advance", ms: 50 },
      { t: "poll", d: 0 },
      { t: "advance", ms: 50 },
      { t: "round" },
    ],
    replyLostPercent: 0,
    staleReadPercent: 0,
    skewsMs: [0, 0, 0],
    dropPercent: 0,
    maxDelayMs: 0,
    seed: 0,
  },
  // A director restarted with a shorter leaseTtl after the lease bucket was made again held off for its
  // own lease time, while the old holder still believed in its key for its longer one (two deciders).
  "a lease bucket made again during a rolling change to a shorter lease time: the hold-off lasts the longer":
    {
      steps: [
        { t: "reset", which: 0 },
        { t: "retime", d: 2, ttlMs: 1500 },
        { t: "poll", d: 1 },
        { t: "advance", ms: 1500 },
        { t: "flip", rs: 0, down: false },
        { t: "poll", d: 2 },
        { t: "advance", ms: 50 },
      ],
      replyLostPercent: 0,
      staleReadPercent: 0,
      skewsMs: [0, 0, 0],
      dropPercent: 0,
      maxDelayMs: 2,
      seed: 0,
    },
  // The leader saw the desired bucket made again in a round where its lease was not confirmed, so it did
  // not write, and nothing remembered that it owed the new bucket every record.
  "a desired bucket made again while the leader cannot decide: it writes every record once it can": {
    steps: [
      { t: "retime", d: 1, ttlMs: 6000 },
      { t: "advance", ms: 381 },
      { t: "advance", ms: 1009 },
      { t: "poll", d: 1 },
      { t: "flip", rs: 0, down: false },
      { t: "advance", ms: 110 },
      { t: "poll", d: 1 },
      { t: "reset", which: 1 },
    ],
    replyLostPercent: 0,
    staleReadPercent: 0,
    skewsMs: [0, 0, 0],
    dropPercent: 0,
    maxDelayMs: 0,
    seed: 0,
  },
  // A follower's applied epoch is the epoch it wrote last, not the highest it ever wrote (it stayed at 2
  // under a leader of epoch 1 once the epochs started over).
  "both buckets made again while the leader is down: the followers' applied epoch follows the new term": {
    steps: [
      { t: "reset", which: 0 },
      { t: "crash", d: 0 },
      { t: "advance", ms: 50 },
      { t: "poll", d: 0 },
      { t: "round" },
      { t: "reset", which: 1 },
    ],
    replyLostPercent: 0,
    staleReadPercent: 0,
    skewsMs: [0, 0, 0],
    dropPercent: 0,
    maxDelayMs: 0,
    seed: 0,
  },
  "a late older-epoch record after the lease bucket was made again (leader crashes)": {
    steps: [
      { t: "reset", which: 0 },
      { t: "poll", d: 0 },
      { t: "advance", ms: 552 },
      { t: "rogue", back: 1 },
      { t: "advance", ms: 2448 },
      { t: "crash", d: 0 },
      { t: "poll", d: 0 },
      { t: "flip", rs: 0, down: false },
      { t: "poll", d: 0 },
    ],
    ...NO_NETWORK_FAULTS,
    seed: -44898747,
  },
  "a late older-epoch record after the lease bucket was made again (follower polls)": {
    steps: [
      { t: "reset", which: 0 },
      { t: "poll", d: 0 },
      { t: "advance", ms: 1269 },
      { t: "rogue", back: 1 },
      { t: "advance", ms: 1731 },
      { t: "poll", d: 1 },
      { t: "advance", ms: 50 },
    ],
    ...NO_NETWORK_FAULTS,
    seed: -30231413,
  },
  // Found at 5 % lost replies: the leader's engine turned its servers up while the lease was not confirmed
  // by its clock; the engine reports a change once, so its kernel kept the fallback for good.
  "a leader's decisions made while it could not decide reach its kernel once it can (lost replies)": {
    steps: [
      { t: "admin", rs: 0, action: "disable" },
      { t: "advance", ms: 1379 },
      { t: "poll", d: 0 },
      { t: "round" },
      { t: "advance", ms: 1621 },
      { t: "poll", d: 0 },
      { t: "poll", d: 0 },
      { t: "round" },
      { t: "partition", d: 0, on: false },
      { t: "poll", d: 0 },
    ],
    replyLostPercent: 5,
    staleReadPercent: 1,
    dropPercent: 0,
    maxDelayMs: 2,
    seed: -758255913,
  },
  // Found at 5 % lost replies: a leader past its lease deadline noticed the lease bucket made again and took
  // the new key at once, while the partner that had succeeded it before the reset still led.
  "a leader past its deadline that sees the lease bucket made again holds off (two leaders)": {
    steps: [
      { t: "advance", ms: 1220 },
      { t: "advance", ms: 1780 },
      { t: "poll", d: 1 },
      { t: "reset", which: 0 },
      { t: "flip", rs: 0, down: false },
      { t: "restart", d: 0 },
      { t: "poll", d: 0 },
      { t: "round" },
      { t: "round" },
    ],
    replyLostPercent: 5,
    staleReadPercent: 0,
    dropPercent: 0,
    maxDelayMs: 2,
    seed: 0,
  },
  // Found at 5 % lost replies: both buckets made again, a director restarted at once saw nothing that said
  // the pair had led, took the new lease key and led beside the old holder.
  "a director starting on a lease bucket younger than a lease time holds off (two leaders)":
    BOTH_BUCKETS_MADE_AGAIN,
  // Found at 10 % lost replies: both buckets made again, a deposed leader's late record of an older term
  // landed in the new desired bucket before anyone held the new lease, and followers, their epochs started
  // over, applied it after the newer term they had applied.
  "a late older-term record in a desired bucket made again waits for the next lease holder (older epoch)": {
    steps: [
      { t: "poll", d: 0 },
      { t: "crash", d: 0 },
      { t: "reset", which: 0 },
      { t: "reset", which: 1 },
      { t: "round" },
      { t: "rogue", back: 1 },
      { t: "advance", ms: 50 },
      { t: "partition", d: 0, on: false },
    ],
    replyLostPercent: 10,
    staleReadPercent: 1,
    dropPercent: 0,
    maxDelayMs: 0,
    seed: 0,
  },
  // Found at 1 % lost replies and 15 % dropped messages: in a lease bucket made again, a director that had
  // not seen the term before its own (its watch dead) took the next term at the same epoch.
  "a director taking an empty key reads the records first: no two terms share an epoch": {
    steps: [
      { t: "flip", rs: 0, down: false },
      { t: "reset", which: 0 },
      { t: "kill-watch", d: 1 },
      { t: "admin", rs: 0, action: "enable" },
      { t: "poll", d: 2 },
      { t: "poll", d: 1 },
      { t: "advance", ms: 1488 },
      { t: "advance", ms: 954 },
      { t: "flip", rs: 0, down: true },
      { t: "advance", ms: 558 },
      { t: "poll", d: 2 },
      { t: "advance", ms: 500 },
      { t: "advance", ms: 2500 },
    ],
    replyLostPercent: 1,
    staleReadPercent: 0,
    dropPercent: 15,
    maxDelayMs: 0,
    seed: 1388759505,
  },
  // Found at 10 % lost replies: a taking write whose reply was lost gave a term an epoch its writer never
  // learned; after the lease bucket was made again, the writer took a lower epoch the followers refused.
  "a term taken after a lease bucket reset starts above every lease revision seen (lost taking reply)": {
    steps: [
      { t: "poll", d: 0 },
      { t: "poll", d: 1 },
      { t: "reset", which: 0 },
      { t: "poll", d: 0 },
      { t: "round" },
      { t: "poll", d: 0 },
      { t: "poll", d: 0 },
      { t: "round" },
    ],
    replyLostPercent: 10,
    staleReadPercent: 1,
    dropPercent: 0,
    maxDelayMs: 0,
    seed: -1285680406,
  },
  // The hold-off above, with the starting director's clock 5 s ahead of the server's (found by adding
  // skews to that schedule): it took the lease bucket, made again 50 ms before, for one older than a lease
  // time and led beside the old holder. The bucket's age is now the server's alone.
  "a director whose clock runs ahead still holds off on a lease bucket just made again (clock skew)": {
    ...BOTH_BUCKETS_MADE_AGAIN,
    skewsMs: [0, 0, 5000],
  },
  // A follower whose watch died silently keeps re-reading the pair's records every lease time, also after
  // its wall clock stepped back a minute (the re-read period ran on the wall clock).
  "a follower's periodic re-read survives a wall clock stepped back (dead watch)": {
    steps: [
      { t: "poll", d: 0 },
      { t: "poll", d: 1 },
      { t: "kill-watch", d: 1 },
      { t: "clock-step", d: 1, ms: -60_000 },
      { t: "flip", rs: 0, down: true },
      { t: "advance", ms: 1500 },
      { t: "poll", d: 0 },
      { t: "poll", d: 1 },
    ],
    replyLostPercent: 0,
    staleReadPercent: 0,
    dropPercent: 0,
    maxDelayMs: 2,
    seed: 0,
  },
  // Found once the model had per-director lease times: during a rolling leaseTtl change, a director
  // restarted with 1.5 s opened the lease bucket and lowered its max age from 3 s, so the server expired
  // the holder's 1.5 s old key at once while the holder still counted on it: two leaders. Opening now only
  // raises the max age; a holder lowers it to its own lease time after renewing.
  "a rolling change to a shorter lease time never expires the holder's lease under it": {
    steps: [
      { t: "advance", ms: 718 },
      { t: "reset", which: 1 },
      { t: "poll", d: 0 },
      { t: "poll", d: 0 },
      { t: "advance", ms: 782 },
      { t: "retime", d: 0, ttlMs: 1500 },
      { t: "advance", ms: 50 },
    ],
    replyLostPercent: 0,
    staleReadPercent: 0,
    skewsMs: [-1, 0, 0],
    dropPercent: 0,
    maxDelayMs: 2,
    seed: 0,
  },
};

describe("director pair properties (random schedules on the in-process bus)", () => {
  for (const [name, schedule] of Object.entries(FOUND)) it(`found: ${name}`, () => runSchedule(schedule));
  const replay = process.env.LVSQ_PAIR_REPLAY;
  // LVSQ_PAIR_REPLAY='<one counterexample as fast-check prints it, without the brackets>' runs just that.
  if (replay) it("replays one schedule (LVSQ_PAIR_REPLAY)", () => runSchedule(JSON.parse(replay)));
  // 1,000 schedules take ~8 s alone. A fixed count, not a time limit: a loaded host makes the run slower,
  // never weaker (LVSQ_PAIR_RUNS=20000 for a long search; its deadline grows with the count).
  const RUNS = Number(process.env.LVSQ_PAIR_RUNS ?? 1000);
  it(
    "keeps the pair invariants and converges after faults heal",
    async () => {
      // npm test runs one fixed seed (a suite must not pass or fail by draw); LVSQ_PAIR_SEED=random draws a
      // new one (a search), LVSQ_PAIR_SEED=N (and LVSQ_PAIR_PATH, as fast-check prints them) replays a run.
      const { LVSQ_PAIR_SEED: seedText = String(FIXED_SEED), LVSQ_PAIR_PATH: path } = process.env;
      const seed = seedText === "random" ? {} : { seed: Number(seedText), ...(path ? { path } : {}) };
      let schedules = 0;
      await fc.assert(
        fc.asyncProperty(scheduleArb, async (schedule) => {
          schedules++;
          await runSchedule(schedule);
        }),
        { numRuns: RUNS, ...seed },
      );
      expect(schedules).toBe(RUNS);
    },
    Math.max(180_000, RUNS * 100),
  );
});
