// Runs INSIDE the guest: 3 probe sites, a real nats-server, a director with a real IPVS table and a
// client, each in its own network namespace (test/harness/topology.ts). Raw observations go to results.json;
// director-multisite.test.ts asserts on the host. Steps run in order; each records its own error.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type GuestProcess,
  lvsqInNetns,
  natsInGuest,
  startBackends,
  startClient,
} from "../harness/fleet-agents.js";
import { poll as pollUnscaled, siteVerdicts, watchBus, watchKernelTable } from "../harness/fleet-watch.js";
import { buildFleet, parkInNetns, setSiteBackendLink } from "../harness/topology.js";
import {
  guestTimeScale,
  observe as observeUnscaled,
  scenarioRecord,
  writeResult,
} from "../harness/in-guest.js";
import {
  forgedMessages,
  MULTISITE,
  multisiteTimers,
  multisiteYaml,
  realServerOf,
} from "./director-multisite.fleet.js";

const { env } = process;
const out = env.LVSQ_GUEST_OUT ?? ".";
const repo = env.LVSQ_REPO ?? process.cwd();
const { CLUSTER, VIP, BACKENDS } = MULTISITE;
// Every timer and wait is stretched by the guest's time scale (1 under UML and KVM, measured under QEMU's
// emulation); the outage itself stays 30 s. The test reads the timers back from the results.
const S = guestTimeScale();
const T = multisiteTimers(S);
const OUTAGE_MS = 30_000;
const poll = <V>(
  what: string,
  test: () => V | undefined | Promise<V | undefined>,
  ms: number,
  everyMs?: number,
) => pollUnscaled(what, test, ms * S, everyMs);
const observe = (ms: number) => observeUnscaled(ms * S);
const rs = realServerOf;

const { results, save, step } = scenarioRecord();
results.timers = T;
results.timeScale = S;
results.nodeStartMs = Number(env.LVSQ_GUEST_NODE_START_MS ?? 0);

const fleet = buildFleet({ sites: ["a", "b", "c"], backends: BACKENDS, vip: VIP });
const config = join(out, "fleet.yaml");
writeFileSync(config, multisiteYaml(fleet.nats.address, T));

const park = parkInNetns(fleet.director.netns);
const table = watchKernelTable(park.pid, VIP, 80);
const nats = natsInGuest(fleet, join(out, "nats"));
await nats.start();
const backends = await startBackends(fleet, BACKENDS.map(rs));
const probes = fleet.sites.map((s) =>
  lvsqInNetns(`probe-${s.id}`, s.netns, repo, ["probe", "--config", config, "--id", `probe-${s.id}`]),
);
const startDirector = () =>
  lvsqInNetns("director", fleet.director.netns, repo, ["director", "--config", config, "--id", "lvs-a"]);
let director: GuestProcess = startDirector();
const directors: GuestProcess[] = [director];
const bus = await watchBus(nats.url, CLUSTER);
const client = startClient(fleet, `http://${VIP}/`, 100, 1000 * S);
const allIn = (t: Record<string, number>) => BACKENDS.every((b) => t[rs(b)] === 1);
const logTime = (l: Record<string, unknown>) => Date.parse(String(l.time));
const directorEvents = (p: GuestProcess) => p.logs().filter((l) => typeof l.event === "string");
const flaps = (p: GuestProcess, since: number) =>
  directorEvents(p).filter((l) => (l.event === "rs-down" || l.event === "rs-up") && logTime(l) > since);

try {
  await step("allIn", async () => {
    const started = Date.now();
    const t = await poll(
      "all 4 real servers in",
      () => (allIn(table.current()) ? table.current() : undefined),
      40_000,
    );
    await poll(
      "the client's first answer",
      () => (client.samples().some((s) => s.ok) ? true : undefined),
      10_000,
    );
    return { table: t, ms: Date.now() - started, at: Date.now() };
  });

  await step("partition", async () => {
    const cutAt = Date.now();
    setSiteBackendLink(fleet, "a", false);
    let seen: Record<string, Record<string, string>>;
    let restoredAt: number;
    try {
      seen = await poll(
        "site a voting every real server down",
        async () => {
          const v = siteVerdicts(await bus.explain("lvs-a", "web"));
          return BACKENDS.every((b) => v[rs(b)]?.a === "down") ? v : undefined;
        },
        15_000,
        250,
      );
      await observe(3000);
    } finally {
      restoredAt = Date.now();
      setSiteBackendLink(fleet, "a", true);
    }
    await poll(
      "site a voting every real server up again",
      async () => {
        const v = siteVerdicts(await bus.explain("lvs-a", "web"));
        return BACKENDS.every((b) => v[rs(b)]?.a === "up") ? true : undefined;
      },
      15_000,
      250,
    );
    return {
      verdicts: seen,
      changes: table.changesSince(cutAt),
      flaps: flaps(director, cutAt),
      heldMs: restoredAt - cutAt,
    };
  });

  await step("backendDies", async () => {
    const from = Date.now();
    const victim = rs(BACKENDS[1]!);
    const killedAt = await backends.kill(victim);
    const removedAt = await poll(
      "the dead backend out of the kernel table",
      () => (table.current()[victim] === undefined ? Date.now() : undefined),
      15_000,
      10,
    );
    await observe(1500); // client requests after the removal
    const samples = client.samples().filter((s) => s.t >= from);
    const back = await backends.start(victim);
    const backInAt = await poll(
      "the backend back in",
      () => (table.current()[victim] === 1 ? Date.now() : undefined),
      15_000,
      10,
    );
    return {
      removalMs: removedAt - killedAt,
      recoveryMs: backInAt - back,
      killedAt,
      removedAt,
      tableAfter: table.changesSince(killedAt)[0]?.table,
      failures: samples.filter((s) => !s.ok),
      answered: samples.filter((s) => s.ok).length,
      event: directorEvents(director).find((l) => l.event === "rs-down" && l.rs === victim),
    };
  });

  await step("drift", async () => {
    const victim = rs(BACKENDS[0]!);
    const before = Date.now();
    execFileSync(
      "ip",
      ["netns", "exec", fleet.director.netns, "ipvsadm", "-d", "-t", `${VIP}:80`, "-r", victim],
      { timeout: 10_000 },
    );
    const goneAt = table.changesSince(before).find((c) => c.table[victim] === undefined)?.t ?? Date.now();
    const repairedAt = await poll(
      "the deleted real server put back",
      () => (table.current()[victim] === 1 ? Date.now() : undefined),
      15_000,
      10,
    );
    const event = await poll(
      "drift-repaired in the log",
      () => directorEvents(director).find((l) => l.event === "drift-repaired" && logTime(l) >= before),
      5000,
      50,
    );
    return { repairMs: repairedAt - goneAt, event, tableAfter: table.current() };
  });

  await step("forged", async () => {
    const before = await bus.heartbeatAfter("lvs-a", Date.now(), 10_000 * S);
    const tableBefore = table.current();
    const sentFrom = Date.now();
    const messages = forgedMessages(CLUSTER, rs(BACKENDS[0]!));
    for (const m of messages) bus.publishRaw(m.subject, m.data);
    await bus.flush();
    // Heartbeats until they count every message dropped (600 votes, 400 messages: see forgedMessages), or
    // the deadline: a director busy reading the flood may send a heartbeat before it has read the rest.
    const deadline = Date.now() + 20_000 * S;
    let after = await bus.heartbeatAfter("lvs-a", Date.now(), 10_000 * S);
    while (
      Date.now() < deadline &&
      (after.counts.votesDropped! - before.counts.votesDropped! < 600 ||
        (after.counts.messagesDropped ?? 0) - (before.counts.messagesDropped ?? 0) < 400)
    )
      after = await bus.heartbeatAfter("lvs-a", Date.now(), 10_000 * S);
    // The heartbeat that counts the last drop can be read before the director's log lines about the same
    // drops (a socket and a pipe read in one turn of the event loop): wait for the warning of each kind.
    const floodWarnings = () => director.logs().filter((l) => logTime(l) >= sentFrom && l.level === "warn");
    const expected = ["invalid-json", "schema", "unknown-service", "unknown-real-server", "replayed-seq"];
    const warnings = await poll(
      "a warning for each kind of dropped message",
      () => {
        const seen = floodWarnings();
        const reasons = new Set(seen.map((w) => w.reason));
        const mismatch = seen.some((w) => String(w.msg).includes("subject does not match"));
        return expected.every((r) => reasons.has(r)) && mismatch ? seen : undefined;
      },
      10_000,
    ).catch(() => floodWarnings());
    return {
      sent: messages.length,
      byKind: Object.fromEntries(
        [...new Set(messages.map((m) => m.kind))].map((k) => [
          k,
          messages.filter((m) => m.kind === k).length,
        ]),
      ),
      votesDropped: after.counts.votesDropped! - before.counts.votesDropped!,
      messagesDropped: (after.counts.messagesDropped ?? 0) - (before.counts.messagesDropped ?? 0),
      warnings: warnings.map((w) => ({ msg: w.msg, reason: w.reason })),
      directorRunning: director.running(),
      tableBefore,
      tableAfter: table.current(),
      changes: table.changesSince(sentFrom),
    };
  });

  await step("natsOutage", async () => {
    const tableBefore = table.current();
    const fromLine = director.lines.length;
    const stoppedAt = Date.now();
    await nats.stop();
    const isolatedLine = await director.waitForLine(
      (l) => l.includes('"role":"isolated"'),
      10_000 * S,
      fromLine,
    );
    const isolatedAt = Date.now();
    await observeUnscaled(OUTAGE_MS - (Date.now() - stoppedAt));
    const changesDuringOutage = table.changesSince(stoppedAt);
    const restartedAt = Date.now();
    await nats.start();
    await director.waitForLine((l) => l.includes('"role":"leader"'), 15_000 * S, fromLine);
    const rejoinedMs = Date.now() - restartedAt;
    // Fresh votes from every site again, then a window as long as a vote's life plus a rise.
    await poll(
      "every site voting every real server up",
      async () => {
        const v = siteVerdicts(await bus.explain("lvs-a", "web"));
        return BACKENDS.every((b) => ["a", "b", "c"].every((s) => v[rs(b)]?.[s] === "up")) ? true : undefined;
      },
      20_000,
      250,
    );
    await observeUnscaled(T.voteTtlMs + T.rise * T.intervalMs);
    return {
      tableBefore,
      changesDuringOutage,
      changesAfter: table.changesSince(stoppedAt),
      isolatedMs: isolatedAt - stoppedAt,
      isolatedLine: JSON.parse(isolatedLine) as unknown,
      rejoinedMs,
      flaps: flaps(director, stoppedAt),
      directorRunning: director.running(),
      heartbeat: await bus.heartbeatAfter("lvs-a", Date.now(), 5000 * S),
    };
  });

  await step("directorRestart", async () => {
    const tableBefore = table.current();
    const stoppedAt = Date.now();
    const exitCode = await director.stop("SIGTERM", 8000 * S);
    const tableAfterStop = table.current();
    director = startDirector();
    directors.push(director);
    const readLine = await director.waitForLine((l) => l.includes("read the kernel table"), 20_000 * S);
    await bus.heartbeatAfter("lvs-a", Date.now(), 10_000 * S);
    await observeUnscaled(T.startupGraceMs + T.voteTtlMs); // startup grace plus a vote's life
    return {
      exitCode,
      tableBefore,
      tableAfterStop,
      readLine: JSON.parse(readLine) as unknown,
      changes: table.changesSince(stoppedAt),
      flaps: flaps(director, 0),
      events: directorEvents(director).map((l) => l.event),
    };
  });

  await step("afterRestarts", async () => {
    const victim = rs(BACKENDS[2]!);
    const killedAt = await backends.kill(victim);
    const removedAt = await poll(
      "the dead backend out after the restarts",
      () => (table.current()[victim] === undefined ? Date.now() : undefined),
      15_000,
      10,
    );
    const back = await backends.start(victim);
    const backInAt = await poll(
      "the backend back in",
      () => (table.current()[victim] === 1 ? Date.now() : undefined),
      15_000,
      10,
    );
    return { removalMs: removedAt - killedAt, recoveryMs: backInAt - back, killedAt, removedAt };
  });
} catch (error) {
  results.error = String((error as Error).stack ?? error);
} finally {
  table.stop();
  results.client = { samples: client.samples().length, failures: client.samples().filter((s) => !s.ok) };
  results.busEvents = bus.events.map((e) => ({ t: e.receivedAt, type: e.event.type, rs: e.event.rs }));
  await client.stop();
  for (const d of directors) await d.stop("SIGTERM", 5000);
  for (const p of probes) await p.stop("SIGTERM", 5000);
  results.driftEvents = directors.flatMap((d) =>
    directorEvents(d).filter((l) => l.event === "drift-repaired"),
  );
  results.crashed = [...directors, ...probes]
    .filter((p) => p.lines.some((l) => /uncaught|FATAL|"level":60/i.test(l)))
    .map((p) => p.name);
  results.directorLogTail = directors.flatMap((d) => d.lines.slice(-40));
  writeResult(
    "director-log.json",
    directors.map((d) => d.lines),
  );
  results.probeLogTail = probes.flatMap((p) =>
    p.lines.filter((l) => l.includes('"level":5') || l.includes('"level":4')).slice(-10),
  );
  await bus.close().catch(() => {});
  await nats.stop();
  await backends.stop();
  park.stop();
  save();
}
