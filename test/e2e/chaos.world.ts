// The chaos run's world, INSIDE the guest: the multi-site topology (test/harness/topology.ts) with a second
// director host, a 3-node nats-server cluster on 127.0.0.1 in the root namespace reached by every agent
// through its own cuttable proxies (test/harness/nats-proxy.ts), three probes and two directors as `lvsq`
// processes in their namespaces, six backends, a client through the VIP. Each process is started once;
// only the schedule restarts one.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type GuestProcess, spawnInNetns, startBackends, startClient } from "../harness/fleet-agents.js";
import { watchBus } from "../harness/fleet-watch.js";
import { runAsync } from "../harness/in-guest.js";
import { type NatsClusterHandle, startNatsCluster } from "../harness/nats-cluster.js";
import { natsProxySet } from "../harness/nats-proxy.js";
import { addDirectorHost, buildFleet, parkInNetns, readKernelService } from "../harness/topology.js";

export const CHAOS = {
  CLUSTER: "chaos",
  VIP: "192.0.2.10",
  BACKENDS: [
    "198.51.100.11",
    "198.51.100.12",
    "198.51.100.13",
    "198.51.100.14",
    "198.51.100.15",
    "198.51.100.16",
  ],
  SITES: ["a", "b", "c"],
  DIRECTORS: ["lvs-a", "lvs-b"],
  /** Its ipvs writes go through a wrapper the schedule makes fail. */
  FLAKY_DIRECTOR: "lvs-b",
  /**
   * Its wall clock runs this far ahead of everyone else's for the whole run (libfaketime, monotonic clock
   * untouched): the pair's decisions must never compare one director's wall clock with another's.
   */
  SKEWED: { director: "lvs-b", aheadS: 3 },
  TIMERS: {
    intervalMs: 1000,
    timeoutMs: 500,
    fall: 2,
    rise: 2,
    voteTtlMs: 4000,
    reconcileMs: 3000,
    leaseMs: 2000,
    startupGraceMs: 2000,
  },
};
export type ChaosTimers = typeof CHAOS.TIMERS;
/** The fleet's timers stretched by the guest's time scale (1 under UML and KVM; measured under TCG). */
export const chaosTimers = (scale: number): ChaosTimers =>
  Object.fromEntries(
    Object.entries(CHAOS.TIMERS).map(([k, v]) => [
      k,
      k === "fall" || k === "rise" ? v : Math.round(v * scale),
    ]),
  ) as ChaosTimers;
export const realServer = (host: string) => `${host}:8080`;
export const DISABLED_RS = realServer(CHAOS.BACKENDS[5]!);
const FAIL_FLAG = "/run/chaos/ipvs-fail";
const FLOOD_SCRIPT = "/run/chaos/flood.mjs";
const FLOOD_FILE = "/run/chaos/flood.jsonl";

export function chaosYaml(
  natsUrls: readonly string[],
  T: ChaosTimers,
  intervalText = `${T.intervalMs}ms`,
): string {
  return `cluster: ${CHAOS.CLUSTER}
nats: { servers: [${natsUrls.map((u) => JSON.stringify(u)).join(", ")}] }
defaults:
  check: { type: http, path: /, interval: ${intervalText}, timeout: ${T.timeoutMs}ms, fall: ${T.fall}, rise: ${T.rise} }
quorum: { by: site, down: majority, up: majority, voteTtl: ${T.voteTtlMs}ms, startupGrace: ${T.startupGraceMs}ms }
sites: [a, b, c]
probes:
  - { id: probe-a, site: a }
  - { id: probe-b, site: b }
  - { id: probe-c, site: c }
  - { id: probe-z, site: c }   # configured, never started: the flood speaks as it
directors: [{ id: lvs-a, pair: edge }, { id: lvs-b, pair: edge }]
director: { reconcileInterval: ${T.reconcileMs}ms, leaseTtl: ${T.leaseMs}ms }
services:
  web:
    vip: ${CHAOS.VIP}:80
    scheduler: rr
    forwarding: nat
    realServers:
${CHAOS.BACKENDS.map((b) => `      - { address: ${realServer(b)}, weight: 1 }`).join("\n")}
`;
}

const FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/** The environment that runs a process with its wall clock `aheadS` seconds ahead (Debian's faketime). */
export function skewedClockEnv(aheadS: number): Record<string, string> {
  if (!existsSync(FAKETIME_LIB))
    throw new Error(`${FAKETIME_LIB} is missing: apt-get install -y faketime (npm test's set-up does it)`);
  return { LD_PRELOAD: FAKETIME_LIB, FAKETIME: `+${aheadS}s`, FAKETIME_DONT_FAKE_MONOTONIC: "1" };
}

/**
 * How far ahead a process started with `env` sees the wall clock (ms): between `atLeast` and `atMost`, as
 * it reads the clock somewhere between its start and its exit.
 */
export async function measuredClockAhead(env: Record<string, string>) {
  const before = Date.now();
  const argv = ["env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), "node", "-p", "Date.now()"];
  const seen = Number((await runAsync(argv)).trim());
  return { atLeastMs: seen - Date.now(), atMostMs: seen - before };
}

export type ChaosWorld = Awaited<ReturnType<typeof buildChaosWorld>>;

export async function buildChaosWorld(out: string, repo: string, scale: number) {
  const timers = chaosTimers(scale);
  const lvsq = join(repo, "packages/cli/bin/lvsq.js");
  const fleet = buildFleet({ sites: CHAOS.SITES, backends: CHAOS.BACKENDS, vip: CHAOS.VIP, prefix: "cx" });
  const hostB = addDirectorHost(fleet, "d2", "203.0.113.6", "198.51.100.3");
  const hosts: Record<string, string> = { "lvs-a": fleet.director.netns, "lvs-b": hostB.netns };
  const anchors = Object.fromEntries(CHAOS.DIRECTORS.map((d) => [d, parkInNetns(hosts[d]!)]));
  const cluster: NatsClusterHandle = await startNatsCluster({ nodes: 3, startTimeoutMs: 30_000 });
  const ports = cluster.nodes.map((n) => n.port);
  const paths: Record<string, Awaited<ReturnType<typeof natsProxySet>>> = {};
  for (const agent of [...CHAOS.SITES.map((s) => `probe-${s}`), ...CHAOS.DIRECTORS])
    paths[agent] = await natsProxySet(fleet.mgmtHost, ports);

  const good = chaosYaml(cluster.urls, timers);
  const configOf = (agent: string) => join(out, `${agent}.yaml`);
  for (const agent of Object.keys(paths)) writeFileSync(configOf(agent), good);
  writeFileSync(join(out, "admin.yaml"), good);

  // The flaky director's ipvsadm: the real one, unless the schedule's flag file exists.
  mkdirSync("/run/chaos", { recursive: true });
  const ipvsadm = (await runAsync(["sh", "-c", "command -v ipvsadm"])).trim();
  const wrapper = "/run/chaos/ipvsadm-flaky";
  writeFileSync(
    wrapper,
    `#!/bin/sh\nif [ -e ${FAIL_FLAG} ]; then echo "chaos: injected ipvsadm failure" >&2; exit 2; fi\nexec ${ipvsadm} "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  // The flood comes from its own process, as it would from elsewhere on the network: published from the
  // scenario's event loop, it starved the NATS proxies and the sampler that loop also runs, and the whole
  // fleet stalled for a minute after it under QEMU's emulation (seed 95501200).
  const transport = join(repo, "node_modules/@nats-io/transport-node/lib/mod.js");
  writeFileSync(
    FLOOD_SCRIPT,
    [
      `import { readFileSync } from "node:fs";`,
      `import { connect } from ${JSON.stringify(transport)};`,
      `const [servers, file] = process.argv.slice(2);`,
      `const messages = readFileSync(file, "utf8").trim().split("\\n").map((line) => JSON.parse(line));`,
      // A broker fault placed close to the flood (or a slow start) must not end it: the client buffers
      // while it reconnects, and a flush that the disconnect rejected is tried again.
      `const nc = await connect({ servers: servers.split(","), name: "chaos-flood", maxReconnectAttempts: -1, reconnectTimeWait: 250 });`,
      `let disconnects = 0;`,
      `const flushed = async () => {`,
      `  for (;;) {`,
      `    try { return await nc.flush(); } catch (error) {`,
      `      if (nc.isClosed()) throw error;`,
      `      disconnects++;`,
      `      await new Promise((r) => setTimeout(r, 250));`,
      `    }`,
      `  }`,
      `};`,
      `const started = Date.now();`,
      `for (let i = 0; i < messages.length; i++) {`,
      `  nc.publish(messages[i][0], messages[i][1]);`,
      `  if (i % 1000 === 999) await flushed();`,
      `}`,
      `await flushed();`,
      `console.log(JSON.stringify({ publishMs: Date.now() - started, disconnects }));`,
      `await nc.close();`,
    ].join("\n"),
  );

  const backends = await startBackends(fleet, CHAOS.BACKENDS.map(realServer));
  /** Exits the schedule did not ask for: a crash or a restart loop. */
  const unexpectedExits: { name: string; code: number | null; at: number }[] = [];
  const expectedExit = new Set<GuestProcess>();
  const watchExit = (p: GuestProcess) =>
    void p.exited.then((code) => {
      if (!expectedExit.has(p)) unexpectedExits.push({ name: p.name, code, at: Date.now() });
    });
  const probes = CHAOS.SITES.map((s, i) => {
    const p = spawnInNetns(
      `probe-${s}`,
      fleet.sites[i]!.netns,
      ["node", lvsq, "probe", "--config", configOf(`probe-${s}`), "--id", `probe-${s}`],
      { LVSQ_NATS_URL: paths[`probe-${s}`]!.urls() },
    );
    watchExit(p);
    return p;
  });
  const directors: Record<string, GuestProcess> = {};
  const directorStarts: Record<string, number> = {};
  /** The logs of a director's earlier incarnations, so a study of the run sees what happened before a restart. */
  const earlierLines: Record<string, string[]> = {};
  const directorEnv = (id: string) => {
    const env: Record<string, string> = { LVSQ_NATS_URL: paths[id]!.urls() };
    if (id === CHAOS.FLAKY_DIRECTOR)
      Object.assign(env, { LVSQ_IPVS_DRIVER: "ipvsadm", LVSQ_IPVSADM: wrapper });
    else env.LVSQ_IPVS_DRIVER = "netlink";
    if (id === CHAOS.SKEWED.director) Object.assign(env, skewedClockEnv(CHAOS.SKEWED.aheadS));
    return env;
  };
  const startDirector = (id: string) => {
    const env = directorEnv(id);
    const p = spawnInNetns(
      id,
      hosts[id],
      ["node", lvsq, "director", "--config", configOf(id), "--id", id],
      env,
    );
    const previous = directors[id];
    if (previous) {
      const earlier = earlierLines[id] ?? [];
      earlier.push(...previous.lines, `--- ${id} restarted by the schedule ---`);
      earlierLines[id] = earlier;
    }
    directors[id] = p;
    directorStarts[id] = (directorStarts[id] ?? 0) + 1;
    watchExit(p);
    return p;
  };
  for (const id of CHAOS.DIRECTORS) startDirector(id);
  /** SIGKILL, as the schedule's crash: an exit it asked for. */
  const crash = (p: GuestProcess) => {
    expectedExit.add(p);
    p.child.kill("SIGKILL");
    return p.exited;
  };
  /** Second incarnations of a director (the schedule's twins), each killed at its fault's end. */
  const twins: GuestProcess[] = [];
  const startTwin = (id: string) => {
    const p = spawnInNetns(
      `${id}-twin${twins.length + 1}`,
      hosts[id],
      ["node", lvsq, "director", "--config", configOf(id), "--id", id],
      { ...directorEnv(id) },
    );
    twins.push(p);
    watchExit(p);
    return p;
  };
  const bus = await watchBus(cluster.urls, CHAOS.CLUSTER);
  const client = startClient(fleet, `http://${CHAOS.VIP}/`, 200, 1000 * scale);

  const tables = () =>
    Object.fromEntries(
      CHAOS.DIRECTORS.map((d) => {
        try {
          return [d, readKernelService(anchors[d]!.pid, CHAOS.VIP, 80)];
        } catch {
          return [d, undefined];
        }
      }),
    );
  const rssMb = (id: string) => {
    // A director the schedule has killed (and not restarted yet) has no RSS: NaN, reported as "n/a".
    const pid = directors[id]?.child.pid;
    let status = "";
    try {
      status = readFileSync(`/proc/${pid}/status`, "utf8");
    } catch {
      return Number.NaN;
    }
    const found = /VmRSS:\s+(\d+) kB/.exec(status);
    return found ? Number(found[1]) / 1024 : Number.NaN;
  };
  const leader = () => {
    const fresh = CHAOS.DIRECTORS.map((d) => bus.latestHeartbeat(d)).filter(
      (h) => h && h.role === "leader" && Date.now() - h.receivedAt < 5000 * scale,
    );
    return fresh[0]?.director ?? CHAOS.DIRECTORS[0]!;
  };

  return {
    timers,
    scale,
    fleet,
    cluster,
    paths,
    backends,
    probes,
    directors,
    directorStarts,
    bus,
    client,
    tables,
    rssMb,
    leader,
    unexpectedExits,
    configOf,
    good,
    lvsq,
    /** A fresh, empty file for the flood's messages, one JSON [subject, data] per line. */
    floodFile(): string {
      writeFileSync(FLOOD_FILE, "");
      return FLOOD_FILE;
    },
    /** Publishes the lines of `file` from a process of its own; resolves with the time it took. */
    async flood(file: string): Promise<{ publishMs: number; disconnects: number }> {
      const output = await runAsync(["node", FLOOD_SCRIPT, cluster.urls.join(","), file], 300_000 * scale);
      rmSync(file, { force: true });
      return JSON.parse(output.trim()) as { publishMs: number; disconnects: number };
    },
    startDirector,
    /** A director's whole log, every incarnation's in order. */
    fullLog: (id: string) => [...(earlierLines[id] ?? []), ...(directors[id]?.lines ?? [])],
    twins,
    startTwin,
    killTwin: crash,
    /** SIGKILL, as a crash: the kernel table stays as it is. */
    killDirector: (id: string) => crash(directors[id]!),
    setIpvsFailing(failing: boolean) {
      if (failing) writeFileSync(FAIL_FLAG, "1");
      else rmSync(FAIL_FLAG, { force: true });
    },
    async close() {
      for (const p of [...Object.values(directors), ...probes, ...twins]) expectedExit.add(p);
      for (const p of twins) p.child.kill("SIGKILL");
      await Promise.all([...Object.values(directors), ...probes].map((p) => p.stop("SIGTERM", 3000)));
      await client.stop();
      await backends.stop();
      await bus.close().catch(() => {});
      for (const n of cluster.nodes) n.resume();
      await cluster.dispose().catch(() => {});
      for (const a of Object.values(anchors)) a.stop();
    },
  };
}
