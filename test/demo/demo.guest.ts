// `npm run demo`, the part that runs INSIDE the guest: a fleet of network namespaces (3 probe sites, a
// nats-server, a director pair with two real IPVS tables, 4 backends, a fallback server, a client hitting
// the VIP on lvs-a) and a scripted story, narrated with both real `ipvsadm -L -n` tables side by side and
// `lvsq explain` after each step; it ends with a leader kill (pair-steps.ts) and `lvsq status`.
// Exit status 1 when a step's expectation fails.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { lvsqInNetns, natsInGuest, startBackends, startClient } from "../harness/fleet-agents.js";
import { poll, siteVerdicts, watchBus } from "../harness/fleet-watch.js";
import { addDirectorHost, buildFleet, setSiteBackendLink } from "../harness/topology.js";
import { guestTimeScale, runAsync } from "../harness/in-guest.js";
import { type Narrator, narrator } from "./narrate.js";
import { type BusWatch, directorHost, heading, roleOf } from "./pair-hosts.js";
import { pairSteps } from "./pair-steps.js";

const { env } = process;
const out = env.LVSQ_GUEST_OUT ?? ".";
const repo = env.LVSQ_REPO ?? process.cwd();
const VIP = "192.0.2.10";
const BACKENDS = ["198.51.100.11", "198.51.100.12", "198.51.100.13", "198.51.100.14"].map((a) => `${a}:8080`);
const SORRY = "198.51.100.99:8080";
// The story's timers stretch with the guest (1 under UML and KVM, 2-5 under QEMU's emulation, where a
// 500 ms check timeout misses on a saturated CPU: test/harness/in-guest.ts, guestTimeScale); so do its waits.
const S = guestTimeScale();
const T = {
  intervalMs: 1000 * S,
  timeoutMs: 500 * S,
  fall: 2,
  rise: 2,
  voteTtlMs: 4000 * S,
  startupGraceMs: 2000 * S,
  leaseTtlMs: 2000 * S,
};
const say: Narrator = narrator();

say.begin();
const fleet = buildFleet({
  sites: ["a", "b", "c"],
  backends: [...BACKENDS, SORRY].map((b) => b.split(":")[0]!),
  vip: VIP,
});
const standby = addDirectorHost(fleet, "lvs-b", "203.0.113.6", "198.51.100.2");
const config = join(out, "fleet.yaml");
writeFileSync(
  config,
  `cluster: demo
nats: { servers: ["nats://${fleet.nats.address}:4222"] }
defaults:
  check: { type: http, path: /, interval: ${T.intervalMs}ms, timeout: ${T.timeoutMs}ms, fall: ${T.fall}, rise: ${T.rise} }
quorum: { by: site, down: majority, up: majority, voteTtl: ${T.voteTtlMs}ms, startupGrace: ${T.startupGraceMs}ms }
sites: [a, b, c]
probes: [{ id: probe-a, site: a }, { id: probe-b, site: b }, { id: probe-c, site: c }]
directors: [{ id: lvs-a, pair: edge }, { id: lvs-b, pair: edge }]
director: { reconcileInterval: 5s, leaseTtl: ${T.leaseTtlMs}ms }
services:
  web:
    vip: ${VIP}:80
    scheduler: rr
    forwarding: nat
    fallback: [{ address: ${SORRY}, weight: 1 }]
    realServers:
${BACKENDS.map((b) => `      - { address: ${b}, weight: 1 }`).join("\n")}
`,
);
say.intro(fleet, standby, config, BACKENDS, SORRY, { ...T, scale: S });

const a = directorHost("lvs-a", fleet.director.netns, VIP, repo, config);
const b = directorHost("lvs-b", standby.netns, VIP, repo, config);
const nats = natsInGuest(fleet, join(out, "nats"), 4222, { jetstream: true });
const started: { stop(): Promise<unknown> }[] = [];
let bus: BusWatch | undefined;
let client: ReturnType<typeof startClient> | undefined;
let backends: Awaited<ReturnType<typeof startBackends>> | undefined;

/** nats-server, lvs-a (it takes the lease), the backends, 3 probes, a bus watch, then lvs-b. */
async function startFleet(): Promise<string> {
  await nats.start();
  started.push({ stop: () => nats.stop() });
  // lvs-a first, so that it is the one that takes the lease (and the one the story kills later); it
  // starts while the rest does, and lvs-b only once lvs-a leads.
  const first = a.start();
  backends = await startBackends(fleet, [...BACKENDS, SORRY]);
  started.push(backends);
  for (const s of fleet.sites)
    started.push(
      lvsqInNetns(`probe-${s.id}`, s.netns, repo, ["probe", "--config", config, "--id", `probe-${s.id}`]),
    );
  const watch0 = await watchBus(nats.url, "demo");
  bus = watch0;
  started.push({ stop: () => watch0.close() });
  // Every process start is slow under QEMU's emulation: the wait stretches with the guest (in-guest.ts).
  const line = await first.waitForLine((l) => l.includes('"event":"leader-changed"'), 20_000 * S);
  const epoch = (JSON.parse(line) as { epoch?: number }).epoch;
  b.start();
  return `nats-server, 4 backends + a fallback server, 3 probes; lvs-a took the lease (epoch ${epoch}), then lvs-b started`;
}

/** The director that decides now (the running leader; lvs-a until the story kills it). */
const leaderId = () =>
  [a, b].find((d) => d.running() && bus && roleOf(d, bus).role === "leader")?.id ?? "lvs-a";
const explain = (director: string) =>
  runAsync(
    [
      "node",
      join(repo, "packages/cli/bin/lvsq.js"),
      "explain",
      "--config",
      config,
      "web",
      "--director",
      director,
    ],
    20_000 * S,
  ).catch((e: Error) => `(lvsq explain failed: ${e.message})`);
const only =
  (...rs: string[]) =>
  (t: Record<string, number>) =>
    Object.keys(t).sort().join(",") === [...rs].sort().join(",");

/** Shows what happened in a step: director events, client answers, both kernel tables, explain. */
async function show(since: number, options: { explain?: boolean; settle?: boolean } = {}): Promise<void> {
  // 1.5 s of traffic after the change first (the guest has one vCPU: while `lvsq explain` starts, the
  // client hardly runs), so the client's line shows the new table at work. Skipped after a long step.
  if (options.settle !== false) await new Promise((r) => setTimeout(r, 1500 * S));
  say.events({ "lvs-a": a.logs(), "lvs-b": b.logs() }, since);
  say.client(client?.samples().filter((s) => s.t >= since) ?? []);
  const [tableA, tableB] = await Promise.all([a.ipvsadm(), b.ipvsadm()]);
  say.columns("ipvsadm -L -n   (in each director's namespace)", [
    { heading: heading(a, bus!, true), text: tableA },
    { heading: heading(b, bus!, false), text: tableB },
  ]);
  if (options.explain === false) return;
  const director = leaderId();
  say.command(`lvsq explain --config fleet.yaml web --director ${director}`, await explain(director));
}

/** Waits until both tables pass `test`; says how long after `since` each got there. */
async function bothTables(what: string, test: (t: Record<string, number>) => boolean, timeoutMs: number) {
  const since = Date.now();
  await poll(
    what,
    () => (test(a.table.current()) && test(b.table.current()) ? true : undefined),
    timeoutMs * S,
    10,
  );
  const at = (d: typeof a) => d.table.changes.find((c) => c.t >= since && test(c.table))?.t ?? since;
  return { a: at(a), b: at(b), lagMs: at(b) - at(a) };
}
const lag = (t: { lagMs: number }) =>
  t.lagMs >= 0
    ? `lvs-b's table followed ${t.lagMs} ms later`
    : `lvs-b's table got there ${-t.lagMs} ms first`;

try {
  await say.step("Starting the fleet", "every agent starts in its own namespace", startFleet);
  const be = backends!;
  const watch = bus!;
  let since = Date.now();
  await say.step(
    "All four backends are healthy",
    "every real server goes in at weight 1, in both tables; lvs-a leads, lvs-b follows; a client starts",
    async () => {
      await bothTables("all four in both kernel tables", only(...BACKENDS), 40_000);
      const filledIn = (Date.now() - since) / 1000;
      await poll(
        "lvs-a leader, lvs-b follower",
        () => (roleOf(a, watch).role === "leader" && roleOf(b, watch).role === "follower" ? true : undefined),
        10_000 * S,
        50,
      );
      const c = startClient(fleet, `http://${VIP}/`, 100, 1000);
      client = c;
      started.push(c);
      await poll(
        "the client's first answer",
        () => (c.samples().some((s) => s.ok) ? true : undefined),
        10_000 * S,
      );
      return `all four in both tables after ${filledIn.toFixed(1)} s (the agents' start included); the client gets answers`;
    },
  );
  await show(since);

  since = Date.now();
  await say.step(
    `Backend ${BACKENDS[1]} dies`,
    `removed within fall × interval + timeout (${T.fall} × ${T.intervalMs / 1000} s + ${T.timeoutMs / 1000} s), once 2 of 3 sites say so; both tables`,
    async () => {
      const killedAt = await be.kill(BACKENDS[1]!);
      const t = await bothTables("removal", (table) => table[BACKENDS[1]!] === undefined, 10_000);
      return `removed from lvs-a's table ${((t.a - killedAt) / 1000).toFixed(2)} s after it died; ${lag(t)}`;
    },
  );
  await show(since, { explain: false }); // the events carry the tally; explain comes back in step 4

  since = Date.now();
  await say.step(
    "Site a loses its network path to the backends (it still reaches NATS)",
    "site a votes every backend down, but 1 site of 3 is no quorum: nothing is removed",
    async () => {
      const before = [a.text(), b.text()];
      setSiteBackendLink(fleet, "a", false);
      try {
        await poll(
          "site a voting down",
          async () => {
            const v = siteVerdicts(await watch.explain("lvs-a", "web"));
            return BACKENDS.filter((rs) => rs !== BACKENDS[1]).every((rs) => v[rs]?.a === "down")
              ? true
              : undefined;
          },
          15_000 * S,
          250,
        );
        await show(since);
      } finally {
        setSiteBackendLink(fleet, "a", true);
      }
      for (const [i, d] of [a, b].entries())
        if (d.table.changesSince(since).length > 0 || d.text() !== before[i])
          throw new Error(`${d.id}'s table changed: ${d.text()}`);
      return "site a voted down; neither table changed; the partition is healed";
    },
  );

  since = Date.now();
  await say.step("Every backend dies", `the fallback server ${SORRY} goes in, in both tables`, async () => {
    for (const rs of BACKENDS) if (rs !== BACKENDS[1]) await be.kill(rs);
    const t = await bothTables("fallback in", only(SORRY), 15_000);
    return `fallback in after ${((t.a - since) / 1000).toFixed(1)} s (${lag(t)}); the client now gets the sorry page`;
  });
  await show(since, { explain: false }); // the events say why (and each explain costs seconds here)

  since = Date.now();
  await say.step(
    "The backends come back",
    "all four back in after rise (2 checks), the fallback out, in both tables",
    async () => {
      for (const rs of BACKENDS) await be.start(rs);
      const t = await bothTables("all back, fallback out", only(...BACKENDS), 15_000);
      return `all back in ${((t.a - since) / 1000).toFixed(1)} s; ${lag(t)}`;
    },
  );
  await show(since, { explain: false });

  await pairSteps({
    say,
    bus: watch,
    a,
    b,
    backends: be,
    victim: BACKENDS[0]!,
    leaseTtlMs: T.leaseTtlMs,
    timeScale: S,
    clientSamples: () => client?.samples() ?? [],
    repo,
    config,
    show,
  });
} catch (error) {
  say.fail(String((error as Error).message ?? error));
} finally {
  await Promise.all([a.stop(), b.stop()]); // first: a director stops cleanly only while NATS is up
  for (const p of started.reverse()) await p.stop().catch(() => {});
  say.end();
}
