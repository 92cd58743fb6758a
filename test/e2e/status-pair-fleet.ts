import { type Bus, connectNatsBus } from "@lvsq/bus";
import { subjects, type VoteBatch, VoteBatch as VoteBatchSchema } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import type { FleetSnapshot } from "@lvsq/status";
import { expect } from "vitest";
import {
  type Backend,
  type LvsqProcess,
  startBackend,
  startLvsq,
  tempConfig,
  waitFor,
} from "../harness/agents.js";
import { type NatsServerHandle, startNatsServer } from "../harness/nats.js";
import { leaderSeenBy, rsArg, startDirector, waitForCommand } from "./status-fleet.js";

// The fleet of status-cli.test.ts and status-admin.test.ts, all real: a nats-server, two `lvsq probe`
// (sites s1, s2) checking two loopback backends, and the director pair `edge` (d1 leads, d2 follows;
// `--dry-run` because this host has no IPVS). A listener on the bus keeps every vote batch, so a test can
// time the probes' flips.

export const VIP = "192.0.2.10:80";

/** The fleet config; `extra` adds a director d3 to pair `edge` and more config (see the digest test). */
export const FLEET = (natsUrl: string, a: Backend, b: Backend, extra = "") => `cluster: e2e
nats: { servers: [${natsUrl}] }
defaults: { check: { type: http, path: /, interval: 300ms, timeout: 200ms, rise: 2, fall: 2 } }
quorum: { by: site, down: majority, up: majority, voteTtl: 3s, startupGrace: 1s }
sites: [s1, s2]
probes: [{ id: p1, site: s1 }, { id: p2, site: s2 }]
directors: [{ id: d1, pair: edge }, { id: d2, pair: edge }${extra ? ", { id: d3, pair: edge }" : ""}]
services:
  web:
    vip: ${VIP}
    # loopback backends share one address: NAT keeps their ports apart (dr would make them one)
    forwarding: nat
    realServers: [{ address: ${a.address}, weight: 1 }, { address: ${b.address}, weight: 3 }]
${extra}`;

export type PairFleet = {
  nats: NatsServerHandle;
  a: Backend;
  b: Backend;
  config: string;
  bus: Bus;
  batches: VoteBatch[];
  directors: Map<string, LvsqProcess>;
  d(id: string): LvsqProcess;
  /** One `lvsq status --json` run (exit 0 asserted). */
  statusJson(): Promise<FleetSnapshot>;
  stop(): Promise<void>;
};

/** Starts the fleet; resolves once both directors have put both backends in their (dry-run) tables. */
export async function startPairFleet(): Promise<PairFleet> {
  const nats = await startNatsServer();
  const [a, b] = await Promise.all([startBackend(), startBackend()]);
  const config = tempConfig(FLEET(nats.url, a, b));
  const bus = await connectNatsBus({
    servers: [nats.url],
    name: "test-listener",
    logger: createLogger({ level: "silent" }),
  });
  const batches: VoteBatch[] = [];
  bus.subscribe(subjects.allVotes("e2e"), VoteBatchSchema, (batch) => void batches.push(batch));
  const probes = [
    startLvsq(["probe", "--config", config, "--id", "p1"]),
    startLvsq(["probe", "--config", config, "--id", "p2"]),
  ];
  const directors = new Map<string, LvsqProcess>();
  const d = (id: string) => directors.get(id)!;
  // d1 first, so it takes the lease; d2 then finds it held and follows.
  directors.set("d1", await startDirector(config, "d1"));
  await waitFor("d1 leads", () => leaderSeenBy(d("d1")) === "d1");
  directors.set("d2", await startDirector(config, "d2"));
  await waitFor("d2 follows d1", () => leaderSeenBy(d("d2")) === "d1");
  for (const id of ["d1", "d2"])
    for (const rs of [a, b]) await waitForCommand(d(id), new RegExp(`^ipvsadm -a .*${rsArg(rs.address)} `));
  return {
    nats,
    a: a!,
    b: b!,
    config,
    bus,
    batches,
    directors,
    d,
    async statusJson() {
      const run = startLvsq(["status", "--config", config, "--json", "--wait", "5s"]);
      const exit = await run.exited;
      expect(exit.code, run.lines.join("\n")).toBe(0);
      return JSON.parse(run.lines.join("\n")) as FleetSnapshot;
    },
    async stop() {
      await Promise.all([...probes, ...directors.values()].map((p) => p.stop("SIGKILL")));
      await bus.close();
      await Promise.all([a?.close(), b?.close()]);
      await nats.dispose();
    },
  };
}

/** One real server of service `web` in a snapshot. */
export const realServer = (snapshot: FleetSnapshot, rs: string) =>
  snapshot.services.find((s) => s.id === "web")!.realServers.find((r) => r.address === rs)!;
