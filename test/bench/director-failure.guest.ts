// bench/director.mjs, the part INSIDE the guest: failure → out of the kernel table and recovery → back,
// over 25 backend failures, once with each kernel driver (netlink, then ipvsadm) in the same boot. 3 probe
// sites, a nats-server and a director in their namespaces (as in the multi-site e2e test), 10 backends in two groups of 5: while one group dies (kills spread over one check
// interval, so the phase against the probes' rounds is sampled), the other comes back. Writes failure.json.
// LVSQ_BENCH_DRIVERS picks the drivers ("netlink ipvsadm"); LVSQ_BENCH_DEBUG=1 runs the director at debug
// level, whose last lines (and the probes') come with a failure.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type GuestProcess, lvsqInNetns, natsInGuest, startBackends } from "../harness/fleet-agents.js";
import { poll, watchKernelTable } from "../harness/fleet-watch.js";
import { buildFleet, parkInNetns } from "../harness/topology.js";
import { run, writeResult } from "../harness/in-guest.js";

const { env } = process;
const out = env.LVSQ_GUEST_OUT ?? ".";
const repo = env.LVSQ_REPO ?? process.cwd();
const VIP = "192.0.2.10";
const HOSTS = Array.from({ length: 10 }, (_, i) => `198.51.100.${31 + i}`);
const ENDPOINTS = HOSTS.map((h) => `${h}:8080`);
const WAVES = 5;
const DRIVERS = (env.LVSQ_BENCH_DRIVERS ?? "netlink ipvsadm").split(" ").filter(Boolean);
const INTERVAL_MS = 1000;

const fleet = buildFleet({ sites: ["a", "b", "c"], backends: HOSTS, vip: VIP });
const config = join(out, "fleet.yaml");
writeFileSync(
  config,
  `cluster: bench
nats: { servers: ["nats://${fleet.nats.address}:4222"] }
defaults: { check: { type: http, path: /, interval: ${INTERVAL_MS}ms, timeout: 500ms, fall: 2, rise: 2 } }
quorum: { by: site, voteTtl: 4s, startupGrace: 1s }
sites: [a, b, c]
probes: [{ id: probe-a, site: a }, { id: probe-b, site: b }, { id: probe-c, site: c }]
directors: [{ id: lvs-a }]
director: { reconcileInterval: 30s }
services:
  web:
    vip: ${VIP}:80
    scheduler: rr
    forwarding: nat
    realServers:
${ENDPOINTS.map((e) => `      - { address: ${e} }`).join("\n")}
`,
);

const park = parkInNetns(fleet.director.netns);
const table = watchKernelTable(park.pid, VIP, 80, 10);
const nats = natsInGuest(fleet, join(out, "nats"));
const procs: GuestProcess[] = [];
type Round = { removalMs: number[]; recoveryMs: number[]; applyMs: number[]; driver?: unknown };
const result: { drivers: Record<string, Round>; error?: string } = { drivers: {} };
/** First time (after `since`) the table shows `test` true, from the 10 ms poller's change log. */
const when = (since: number, test: (t: Record<string, number>) => boolean) =>
  table.changesSince(since - 1).find((c) => test(c.table))?.t;

/** One director with `driver`, from an empty table, through WAVES waves of failures and recoveries. */
async function round(driver: string, backends: Awaited<ReturnType<typeof startBackends>>): Promise<Round> {
  const r: Round = { removalMs: [], recoveryMs: [], applyMs: [] };
  run(["ip", "netns", "exec", fleet.director.netns, "ipvsadm", "-C"]);
  process.env.LVSQ_IPVS_DRIVER = driver; // the director process below inherits it
  const director = lvsqInNetns(`director-${driver}`, fleet.director.netns, repo, [
    "director",
    "--config",
    config,
    "--id",
    "lvs-a",
    ...(env.LVSQ_BENCH_DEBUG === "1" ? ["--log-level", "debug"] : []),
  ]);
  procs.push(director);
  try {
    await poll(
      "all 10 in",
      () => (ENDPOINTS.every((e) => table.current()[e] === 1) ? true : undefined),
      40_000,
    );
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; table ${JSON.stringify(table.current())}; director (${driver}): ${director.lines.slice(-40).join("\n")}; probes: ${procs
        .filter((p) => p.name.startsWith("probe"))
        .map((p) => `${p.name} running ${p.running()}: ${p.lines.slice(-4).join("\n")}`)
        .join("\n")}`,
    );
  }
  const groups = [ENDPOINTS.slice(0, 5), ENDPOINTS.slice(5)];
  let recovering: Promise<void> = Promise.resolve();
  for (let wave = 0; wave < WAVES; wave++) {
    const victims = groups[wave % 2]!;
    const kills = victims.map(async (e, i) => {
      await new Promise((done) => setTimeout(done, (i * INTERVAL_MS) / victims.length));
      const killedAt = await backends.kill(e);
      await poll(`${e} out`, () => when(killedAt, (t) => t[e] === undefined), 15_000, 10);
      r.removalMs.push(when(killedAt, (t) => t[e] === undefined)! - killedAt);
    });
    await Promise.all(kills);
    await recovering; // the other group is back before this one starts coming back
    recovering = Promise.all(
      victims.map(async (e) => {
        const startedAt = await backends.start(e);
        await poll(`${e} back`, () => when(startedAt, (t) => t[e] === 1), 15_000, 10);
        r.recoveryMs.push(when(startedAt, (t) => t[e] === 1)! - startedAt);
      }),
    ).then(() => undefined);
  }
  await recovering;
  await director.stop("SIGTERM", 5000);
  const logs = director.logs();
  r.driver = logs.find((l) => l.msg === "ipvs driver");
  r.applyMs = logs
    .filter((l) => l.op === "apply" && typeof l.durationMs === "number")
    .map((l) => Math.round((l.durationMs as number) * 100) / 100);
  return r;
}

try {
  await nats.start();
  const backends = await startBackends(fleet, ENDPOINTS);
  procs.push(backends.proc);
  for (const s of fleet.sites)
    procs.push(
      lvsqInNetns(`probe-${s.id}`, s.netns, repo, ["probe", "--config", config, "--id", `probe-${s.id}`]),
    );
  for (const driver of DRIVERS) result.drivers[driver] = await round(driver, backends);
} catch (error) {
  result.error = String((error as Error).stack ?? error);
} finally {
  table.stop();
  for (const p of procs) if (p.running()) await p.stop("SIGTERM", 5000);
  await nats.stop();
  park.stop();
  writeResult("failure.json", result);
}
