// Runs INSIDE the guest: the chaos run. Builds the world (chaos.world.ts), waits for both directors'
// tables to hold every backend, disables one real server with `lvsq admin`, then plays the seeded fault
// schedule (chaos.schedule.ts, chaos.faults.ts) while sampling both kernel tables every 100 ms against
// the invariants (chaos.invariants.ts). Writes results.json; chaos.test.ts asserts and prints the report.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { poll } from "../harness/fleet-watch.js";
import { exitOnCrash, guestTimeScale, runAsync, writeResult } from "../harness/in-guest.js";
import { createInvariants, tableKey } from "./chaos.invariants.js";
import { faultInjector } from "./chaos.faults.js";
import { buildSchedule, type ChaosMode, maxConcurrent } from "./chaos.schedule.js";
import {
  buildChaosWorld,
  CHAOS,
  type ChaosWorld,
  chaosTimers,
  DISABLED_RS,
  measuredClockAhead,
  realServer,
  skewedClockEnv,
} from "./chaos.world.js";

const { env } = process;
const out = env.LVSQ_GUEST_OUT ?? ".";
const repo = env.LVSQ_REPO ?? process.cwd();
const mode: ChaosMode = env.LVSQ_CHAOS === "long" ? "long" : "short";
const seed = Number(env.LVSQ_CHAOS_SEED ?? "1");
// Every timer, fault offset and wait is stretched by the guest's time scale (1 under UML and KVM; measured
// under QEMU's emulation), so a slow guest plays the same story slower; the report states the scale.
// Under QEMU's emulation at least 3: the chaos world runs some fifteen processes, more than one node
// start shows; at 2.5 its probes timed out against healthy backends (two runs), at 3 it passed (three).
const S = guestTimeScale(env, { tcgAtLeast: 3 });
const T = chaosTimers(S);
/** fall × interval + timeout + 1 s. */
const BOUND_MS = T.fall * T.intervalMs + T.timeoutMs + 1000;
/**
 * For the guest: UML or QEMU under TCG on a loaded 2-core host (npm run bench: failure → kernel p99 2.3 s at
 * these timers), sampling every 100 ms, and the follower's apply after the leader's (through its KV watch
 * and ipvsadm: up to 1.7 s measured in these runs).
 */
const ALLOWANCE_MS = 2500 * S;
const ALL = CHAOS.BACKENDS.map(realServer);
const CHECKED = ALL.filter((rs) => rs !== DISABLED_RS);

const log: string[] = [];
const note = (line: string) => {
  const stamped = `${new Date().toISOString()} ${line}`;
  log.push(stamped);
  console.log(stamped);
};
const results: Record<string, unknown> = { seed, mode, timeScale: S, timers: T };
const save = () => writeResult("results.json", { ...results, log: log.slice(-300) });

async function main(world: ChaosWorld) {
  const want = (rows: readonly string[]) => tableKey(Object.fromEntries(rows.map((rs) => [rs, 1])));
  const both = (rows: readonly string[], what: string, timeoutMs: number) =>
    poll(
      what,
      () => {
        const t = world.tables();
        return CHAOS.DIRECTORS.every((d) => t[d] && tableKey(t[d]!) === want(rows)) ? true : undefined;
      },
      timeoutMs,
      100,
    );
  const ahead = await measuredClockAhead(skewedClockEnv(CHAOS.SKEWED.aheadS));
  results.skewedClock = { director: CHAOS.SKEWED.director, aheadS: CHAOS.SKEWED.aheadS, ...ahead };
  note(`${CHAOS.SKEWED.director}'s wall clock: ${ahead.atLeastMs}-${ahead.atMostMs} ms ahead`);
  // Unskewed, the clock a child reads is never ahead of the one read after it exited (atLeast <= 0).
  if (ahead.atLeastMs < 1000) throw new Error(`libfaketime did not move the clock: ${JSON.stringify(ahead)}`);
  let started = Date.now();
  await both(ALL, "every backend in both tables", 90_000 * S);
  results.startMs = Date.now() - started;
  note(`both tables full after ${results.startMs} ms`);

  started = Date.now();
  await runAsync(
    [
      "node",
      world.lvsq,
      "admin",
      "disable",
      "web",
      DISABLED_RS,
      "--config",
      join(out, "admin.yaml"),
      "--reason",
      "chaos: held out for the whole run",
      // Its bus log on stderr: if it ever does not finish again, the report shows how far it got.
      "--log-level",
      "info",
      // Its own deadline comes first and names the step it was stuck in.
      "--timeout",
      `${Math.round(20 * S)}s`,
    ],
    30_000 * S,
  );
  await both(CHECKED, "the disabled real server out of both tables", 30_000 * S);
  note(`admin disable of ${DISABLED_RS} applied in ${Date.now() - started} ms`);

  const schedule = buildSchedule({
    seed,
    mode,
    realServers: CHECKED,
    sites: CHAOS.SITES,
    natsNodes: 3,
    flakyDirector: CHAOS.FLAKY_DIRECTOR,
    scale: S,
  });
  results.schedule = schedule;
  save();
  const injector = faultInjector(world, note);
  const invariants = createInvariants(
    {
      directors: CHAOS.DIRECTORS,
      flakyDirector: CHAOS.FLAKY_DIRECTOR,
      disabledRs: DISABLED_RS,
      boundMs: BOUND_MS,
      allowanceMs: ALLOWANCE_MS,
      // A removal may follow a backend's recovery by what was already in flight: votes live voteTtl.
      justifyMs: T.voteTtlMs + BOUND_MS,
      quietDivergenceMs: 1500 * S,
      // NATS: reconnect (1-2 s), JetStream electing leaders again (5-7 s), a lease round; a restart: a
      // director start (2.5 s under TCG) and a rejoin; ipvs: the next reconcile; the flood: the lease
      // rounds it delayed (see the report's leader changes).
      // Quiet: a backend's recovery is voted in rise × interval after it, then followed by the follower.
      settleMs: {
        nats: 10_000 * S,
        restart: 10_000 * S,
        ipvs: T.reconcileMs + 3000 * S,
        flood: 10_000 * S,
        quiet: 10_000 * S,
      },
    },
    injector.records,
  );
  const sampler = setInterval(() => invariants.sample(Date.now(), world.tables()), 100);
  const phaseStart = Date.now();
  note(`chaos ${mode} run, seed ${seed}: ${schedule.faults.length} faults over ${schedule.lengthMs} ms`);
  const running = schedule.faults.map(
    (f) => new Promise<void>((done) => setTimeout(() => void injector.inject(f).then(done), f.atMs)),
  );
  await Promise.all(running);
  const faultsEndedMs = Date.now() - phaseStart;
  note(`every fault over after ${faultsEndedMs} ms; waiting for the fleet to settle`);
  started = Date.now();
  await both(CHECKED, "every checked backend back in both tables", 60_000 * S).catch((error) => {
    results.settleError = String(error);
  });
  const settleMs = Date.now() - started;
  // Sample on into the quiet after the last fault (its settle time, then 3 s), where the pair must agree.
  const lastEnd = Math.max(...injector.records.map((f) => f.endedAt ?? Date.now()));
  await new Promise((r) => setTimeout(r, Math.max(3000 * S, lastEnd + 13_000 * S - Date.now())));
  clearInterval(sampler);
  const figures = invariants.finish(Date.now());
  const samples = world.client.samples();
  results.faults = injector.records;
  results.figures = {
    ...figures,
    boundMs: BOUND_MS,
    allowanceMs: ALLOWANCE_MS,
    faultsEndedMs,
    settleMs,
    maxConcurrentFaults: maxConcurrent(schedule.faults),
    unexpectedExits: world.unexpectedExits,
    directorStarts: world.directorStarts,
    rssMbAtEnd: Object.fromEntries(CHAOS.DIRECTORS.map((d) => [d, world.rssMb(d)])),
    client: { requests: samples.length, ok: samples.filter((s) => s.ok).length },
    events: countBy(world.bus.events.map((e) => String(e.event.type))),
    heartbeats: Object.fromEntries(CHAOS.DIRECTORS.map((d) => [d, world.bus.latestHeartbeat(d)])),
  };
  results.done = true;
}

function countBy(xs: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const x of xs) counts[x] = (counts[x] ?? 0) + 1;
  return counts;
}

let world: ChaosWorld | undefined;
exitOnCrash((error) => {
  results.error = error;
  save();
});
try {
  note(`chaos seed ${seed} (${mode}); replay with LVSQ_CHAOS_SEED=${seed}`);
  // Ends before the guest's own deadline, so the results and the agents' logs are always written.
  const deadlineMs = Number(env.LVSQ_CHAOS_DEADLINE_MS ?? "240000") * S;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, fail) => {
    timer = setTimeout(
      () => fail(new Error(`the chaos scenario passed its own deadline of ${deadlineMs} ms`)),
      deadlineMs,
    );
  });
  await Promise.race([
    (async () => {
      world = await buildChaosWorld(out, repo, S);
      await main(world);
    })(),
    deadline,
  ]);
  clearTimeout(timer);
} catch (error) {
  results.error = String((error as Error).stack ?? error);
} finally {
  if (world) {
    results.agentLogTail = Object.fromEntries(
      [...Object.values(world.directors), ...world.twins, ...world.probes].map((p) => [
        p.name,
        p.lines.slice(-40),
      ]),
    );
    // LVSQ_CHAOS_LOGS=1 (with LVSQ_GUEST_KEEP=1 to keep the work folder): every agent's whole log, to study a run.
    if (process.env.LVSQ_CHAOS_LOGS)
      for (const p of [...Object.values(world.directors), ...world.twins, ...world.probes])
        writeFileSync(
          join(process.env.LVSQ_GUEST_OUT ?? ".", `agent-${p.name}.log`),
          `${(p.name in world.directors ? world.fullLog(p.name) : p.lines).join("\n")}\n`,
        );
  }
  save();
  await world?.close().catch(() => {});
  save();
  process.exit(0);
}
