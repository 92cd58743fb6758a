// The hosts of pairs-kernel.guest.ts, inside the guest: two network namespaces (each its own IPVS table) for
// the directors lvs-a and lvs-b, each reaching a real nats-server through a TCP proxy the scenario can cut;
// three loopback backends; three probe agents in this process; a watcher of heartbeats and leader changes.
// Each director is the scenario's own bundle started as `ip netns exec ns-X node <bundle> --director …`.
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectNatsBus } from "@lvsq/bus";
import { createCheckRunner } from "@lvsq/checks";
import { loadConfig } from "@lvsq/config";
import { DirectorAgent } from "@lvsq/director";
import { createIpvsadmDriver } from "@lvsq/ipvs";
import { ProbeAgent } from "@lvsq/probe";
import { DirectorHeartbeat, EventEnvelope, subjects } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import {
  addNetns,
  addVethPair,
  closeHttpServers,
  guestTimeScale,
  type LoopbackHttpServer,
  readKernelService,
  startHttpServers,
} from "../harness/in-guest.js";
import { type NatsServerHandle, startNatsServer } from "../harness/nats.js";
import { natsProxy } from "../harness/nats-proxy.js";

/** Waits and timers of the scenario are this many times longer under QEMU's emulation (in-guest.ts). */
export const TIME_SCALE = guestTimeScale();
export const LEASE_TTL_MS = 2000 * TIME_SCALE;
export const RS = ["127.0.0.2:8080", "127.0.0.3:8080", "127.0.0.4:8080"] as const;
export const WEIGHTS: Record<string, number> = {
  "127.0.0.2:8080": 1,
  "127.0.0.3:8080": 2,
  "127.0.0.4:8080": 3,
};

/** Director mode: what `lvsq director` wires, run from this bundle (sources, no build needed). */
export async function runDirector(id: string, configFile: string, url: string): Promise<void> {
  const config = await loadConfig(configFile);
  const logger = createLogger({ bindings: { director: id, pair: "edge" } });
  const bus = await connectNatsBus({ servers: url, name: `director-${id}`, logger });
  const agent = await DirectorAgent.start({
    config,
    directorId: id,
    bus,
    driver: createIpvsadmDriver({ timeoutMs: 10_000 }),
    logger,
    heartbeatMs: 300,
  });
  process.on("SIGTERM", async () => {
    await agent.stop();
    await bus.close();
    process.exit(0);
  });
}

/** Real servers of the VIP in one namespace's table, read from /proc/<pid in it>/net/ip_vs (no exec). */
export const table = (pid: number) => readKernelService(pid, "192.0.2.10", 80);
export const same = (a: Record<string, number>, b: Record<string, number>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
export const wanted = (up: readonly string[]) => Object.fromEntries(up.map((rs) => [rs, WEIGHTS[rs]!]));

export type Director = {
  id: string;
  ns: string;
  anchor: number;
  proxy: ReturnType<typeof natsProxy>;
  child?: ChildProcess;
};

/** Everything the scenario runs on; `setUp` fills it, `close` stops what it started (also half-built). */
export type PairWorld = {
  nats: NatsServerHandle | undefined;
  backends: Map<string, LoopbackHttpServer>;
  probes: ProbeAgent[];
  buses: { close(): Promise<void> }[];
  directors: Record<string, Director>;
  heartbeats: Map<string, DirectorHeartbeat>;
  leaderChanges: { at: number; leader: string; epoch: number }[];
  /** Starts (or restarts) a director in its namespace; its output goes to the scenario's log. */
  startDirector(d: Director): void;
  setUp(): Promise<void>;
  close(): Promise<void>;
};

export function pairWorld(out: string, log: string[]): PairWorld {
  const world: PairWorld = {
    nats: undefined,
    backends: new Map(),
    probes: [],
    buses: [],
    directors: {},
    heartbeats: new Map(),
    leaderChanges: [],
    startDirector: () => {
      throw new Error("the pair world is not set up");
    },
    async setUp() {
      const nats = await startNatsServer();
      world.nats = nats;
      const { backends, probes, buses, directors, heartbeats, leaderChanges } = world;
      for (const [i, id] of ["lvs-a", "lvs-b"].entries()) {
        const ns = addNetns(`ns-${id}`);
        const hostSide = `198.51.100.${1 + 4 * i}`;
        addVethPair(
          { name: `v${i}h`, address: `${hostSide}/30` },
          { name: `v${i}n`, netns: ns, address: `198.51.100.${2 + 4 * i}/30` },
        );
        const anchor = spawn("ip", ["netns", "exec", ns, "sleep", "600"], { stdio: "ignore" });
        const proxy = natsProxy(hostSide, nats.port);
        await proxy.listen();
        directors[id] = { id, ns, anchor: anchor.pid!, proxy };
      }
      for (const [rs, server] of (
        await startHttpServers(["127.0.0.2", "127.0.0.3", "127.0.0.4"], 8080)
      ).entries())
        backends.set(RS[rs]!, server);
      const config = join(out, "pair.yaml");
      writeFileSync(
        config,
        `cluster: e2e
defaults: { check: { type: http, path: /, interval: ${500 * TIME_SCALE}ms, timeout: ${300 * TIME_SCALE}ms, fall: 2, rise: 1 } }
quorum: { by: site, voteTtl: ${3000 * TIME_SCALE}ms, startupGrace: ${1000 * TIME_SCALE}ms }
sites: [dc1, dc2, dc3]
probes: [{ id: p1, site: dc1 }, { id: p2, site: dc2 }, { id: p3, site: dc3 }]
directors: [{ id: lvs-a, pair: edge }, { id: lvs-b, pair: edge }]
director: { reconcileInterval: 30s, leaseTtl: ${LEASE_TTL_MS}ms }
services:
  web:
    vip: 192.0.2.10:80
    scheduler: wrr
    forwarding: nat
    realServers:
${RS.map((rs) => `      - { address: ${rs}, weight: ${WEIGHTS[rs]} }`).join("\n")}
`,
      );
      const fleet = await loadConfig(config);
      const quiet = createLogger({ level: "warn" });
      const watcher = await connectNatsBus({ servers: nats.url, name: "scenario", logger: quiet });
      buses.push(watcher);
      watcher.subscribe(
        subjects.allDirectorStatus("e2e"),
        DirectorHeartbeat,
        (hb) => void heartbeats.set(hb.director, hb),
      );
      watcher.subscribe(subjects.allEvents("e2e"), EventEnvelope, (envelope) => {
        const e = envelope.event as { type: string; leader?: string; epoch?: number };
        if (e.type === "leader-changed")
          leaderChanges.push({ at: Date.now(), leader: e.leader ?? "", epoch: e.epoch ?? 0 });
      });
      for (const probe of fleet.probes) {
        const bus = await connectNatsBus({ servers: nats.url, name: probe.id, logger: quiet });
        buses.push(bus);
        const checks = createCheckRunner();
        probes.push(
          new ProbeAgent({
            config: fleet,
            probeId: probe.id,
            bus,
            runCheck: checks.run,
            logger: quiet,
          }),
        );
      }
      world.startDirector = (d: Director) => {
        const child = spawn(
          "ip",
          ["netns", "exec", d.ns, "node", process.argv[1]!, "--director", d.id, config, d.proxy.url()],
          { stdio: ["ignore", "pipe", "pipe"] },
        );
        let rest = "";
        const collect = (chunk: Buffer) => {
          const parts = (rest + chunk.toString()).split("\n");
          rest = parts.pop() ?? "";
          log.push(...parts.map((line) => `${d.id} ${line}`));
        };
        child.stdout!.on("data", collect);
        child.stderr!.on("data", collect);
        d.child = child;
      };
    },
    async close() {
      for (const d of Object.values(world.directors)) d.child?.kill("SIGKILL");
      for (const p of world.probes) await p.stop().catch(() => {});
      for (const bus of world.buses) await bus.close().catch(() => {});
      await closeHttpServers([...world.backends.values()]).catch(() => {});
      await world.nats?.dispose().catch(() => {});
    },
  };
  return world;
}
