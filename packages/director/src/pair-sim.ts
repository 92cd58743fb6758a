import {
  type Bus,
  createMemoryNetwork,
  type FaultHook,
  type Kv,
  type KvWatcher,
  type MemoryNetwork,
} from "@lvsq/bus";
import { type FleetConfig, parseConfig } from "@lvsq/config";
import { createMemoryDriver, type MemoryDriver } from "@lvsq/ipvs";
import {
  type AdminAction,
  buckets,
  DesiredRecord,
  kvKeys,
  type IpvsTable,
  subjects,
  tableDigest,
  type VoteState,
} from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { DirectorAgent } from "./agent.js";

/**
 * A simulated director pair for tests and the bench: DirectorAgents with in-memory kernel tables on one
 * in-process network with a fake clock and manual delivery, three probes (one per site) voting on one
 * service, and hooks for crashes, restarts, partitions, drops and delays. Lease rounds are driven by the
 * caller (`poll`), so a schedule is a plain list of steps.
 */
export const SIM_RS = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"] as const;
export const SIM_PROBES = [
  { id: "p1", site: "dc1" },
  { id: "p2", site: "dc2" },
  { id: "p3", site: "dc3" },
] as const;

/** The author of `rogueWrite` records. */
export const ROGUE = "rogue";

export function simConfig(directors: readonly string[] = ["a", "b"], leaseTtl = "3s"): FleetConfig {
  const input = {
    cluster: "sim",
    quorum: { by: "site", voteTtl: "6s", startupGrace: "0s" },
    sites: ["dc1", "dc2", "dc3"],
    probes: SIM_PROBES,
    directors: directors.map((id) => ({ id, pair: "edge" })),
    director: { leaseTtl, reconcileInterval: "1h" },
    services: {
      web: {
        vip: "192.0.2.10:80",
        scheduler: "wrr",
        realServers: SIM_RS.map((address, i) => ({ address, weight: i + 1 })),
        fallback: [{ address: "127.0.0.1:80", weight: 1 }],
      },
    },
  };
  return parseConfig(JSON.stringify(input), "sim.yaml", { env: {} });
}

export type SimSubmit = { at: number; epoch: number; role: string; digest: string };

export type SimDirector = {
  id: string;
  driver: MemoryDriver;
  bus: Bus | undefined;
  agent: DirectorAgent | undefined;
  /** Tables handed to the apply loop, per incarnation (reset on restart). */
  submits: SimSubmit[];
  /** Kernel applies (batches reaching the memory driver), with the sim time. */
  applies: { at: number; digest: string }[];
};

export type SimWrite = {
  revision: number;
  key: string;
  epoch: number;
  leader: string;
  rogue: boolean;
  /** How many times the desired bucket had been reset when this was written (revisions restart). */
  generation: number;
};

export class PairSim {
  now = 1_000_000;
  readonly network: MemoryNetwork;
  readonly config: FleetConfig;
  readonly directors = new Map<string, SimDirector>();
  /** Every desired record write, in revision order, as an unfaulted observer sees them. */
  readonly writes: SimWrite[] = [];
  readonly truth = new Map<string, VoteState>(SIM_RS.map((rs) => [rs, "up"]));
  private readonly probeBus: Bus;
  private observer: KvWatcher | undefined;
  private observerKv: Kv | undefined;
  private seq = 0;
  private incarnations = 0;
  private desiredGeneration = 0;
  private readonly logger = createLogger({ level: "silent" });

  constructor(options: { directors?: readonly string[]; leaseTtl?: string } = {}) {
    this.config = simConfig(options.directors, options.leaseTtl);
    this.network = createMemoryNetwork({ now: () => this.now, manualDelivery: true, logger: this.logger });
    this.probeBus = this.network.connect("probes");
  }

  /** Faults apply to everything but the observer (whose job is to see the truth). */
  setFaults(hook: FaultHook | undefined): void {
    this.network.setFaultHook(
      hook === undefined ? undefined : (d) => (d.to === "observer" ? "deliver" : hook(d)),
    );
  }

  async init(): Promise<void> {
    const bus = this.network.connect("observer");
    const kv = await bus.kv(buckets.desired(this.config.cluster));
    this.observerKv = kv;
    this.observer = await kv.watch(">", (change) => {
      const parsed = DesiredRecord.safeParse(change.value);
      if (change.operation === "PUT" && parsed.success)
        this.writes.push({
          revision: change.revision,
          key: change.key,
          epoch: parsed.data.epoch,
          leader: parsed.data.leader,
          rogue: parsed.data.leader === ROGUE,
          generation: this.desiredGeneration,
        });
    });
    for (const id of this.config.directors.map((d) => d.id)) {
      const director: SimDirector = {
        id,
        driver: createMemoryDriver(),
        bus: undefined,
        agent: undefined,
        submits: [],
        applies: [],
      };
      this.directors.set(id, director);
    }
  }

  director(id: string): SimDirector {
    const found = this.directors.get(id);
    if (!found) throw new Error(`no director ${id}`);
    return found;
  }

  async start(id: string, directorId = id): Promise<void> {
    const director = this.director(id);
    if (director.agent) return;
    director.submits = [];
    const bus = this.network.connect(id);
    director.bus = bus;
    const driver = director.driver;
    const observed = {
      read: () => driver.read(),
      apply: async (ops: Parameters<MemoryDriver["apply"]>[0]) => {
        const result = await driver.apply(ops);
        director.applies.push({ at: this.now, digest: tableDigest(await driver.read()) });
        return result;
      },
    };
    let agent: DirectorAgent | undefined;
    agent = await DirectorAgent.start({
      config: this.config,
      directorId,
      bus,
      driver: observed,
      logger: this.logger,
      now: () => this.now,
      tickMs: 3_600_000,
      heartbeatMs: 3_600_000,
      pairPollMs: "manual",
      adminRefreshMs: "manual",
      incarnation: `${id}#${++this.incarnations}`,
      onSubmit: (table, epoch) =>
        director.submits.push({
          at: this.now,
          epoch,
          role: agent?.role ?? "starting",
          digest: tableDigest(table),
        }),
    });
    director.agent = agent;
    await this.settle();
  }

  /** A crash: the connection goes first, so nothing (not even a lease release) reaches the bus. */
  async crash(id: string): Promise<void> {
    const director = this.director(id);
    if (!director.agent) return;
    await director.bus?.close();
    await director.agent.stop();
    director.agent = undefined;
    director.bus = undefined;
  }

  /**
   * A write no fenced leader would make: an old epoch's record landing late, unfenced (e.g. a put that
   * sat in a socket buffer past its lease). Followers must ignore it when they know a newer epoch.
   */
  async rogueWrite(epoch: number, down: readonly string[]): Promise<void> {
    const service = this.config.services.web!;
    await this.observerKv!.put(`edge.web`, {
      v: 1,
      cluster: this.config.cluster,
      pair: "edge",
      service: "web",
      epoch,
      leader: ROGUE,
      at: this.now,
      table: {
        key: "tcp 192.0.2.10:80",
        protocol: "tcp",
        address: "192.0.2.10:80",
        family: "inet",
        scheduler: service.scheduler,
        realServers: SIM_RS.filter((rs) => !down.includes(rs)).map((address) => ({
          address,
          forwarding: "dr",
          weight: 7,
        })),
      },
      reasons: [],
    });
    await this.settle();
  }

  /** The bucket is lost and made again (see MemoryNetwork.resetBucket); writes are tracked per generation. */
  async resetBucket(bucket: string): Promise<void> {
    if (bucket === buckets.desired(this.config.cluster)) this.desiredGeneration++;
    this.network.resetBucket(bucket);
    await this.settle();
  }

  /** An operator's `lvsq admin ACTION web RS`, written to the admin bucket as the CLI writes it. */
  async adminWrite(rs: string, action: AdminAction): Promise<void> {
    const kv = await this.probeBus.kv(buckets.admin(this.config.cluster));
    await kv.put(kvKeys.admin("web", rs), {
      v: 1,
      service: "web",
      rs,
      action,
      author: "sim",
      reason: "sim",
      at: this.now,
    });
    await this.settle();
  }

  /**
   * A second live process with the id of director `id` (a replacement started early, a hung process
   * restarted by its supervisor), on its own connection and kernel. Returns its handle.
   */
  async startTwin(id: string): Promise<SimDirector> {
    const twinId = `${id}~twin`;
    const twin: SimDirector = {
      id: twinId,
      driver: createMemoryDriver(),
      bus: undefined,
      agent: undefined,
      submits: [],
      applies: [],
    };
    this.directors.set(twinId, twin);
    await this.start(twinId, id);
    return twin;
  }

  /** Directors that may decide right now (leading with a held lease): never more than one. */
  deciders(): string[] {
    return [...this.directors.values()].filter((d) => d.agent?.pair?.mayDecide()).map((d) => d.id);
  }

  partition(id: string, partitioned: boolean): void {
    this.network.setPartitioned(id, partitioned);
  }

  /** One lease round (after a full re-read of the admin overrides, which a real director runs on a timer). */
  async poll(id: string): Promise<void> {
    await this.director(id).agent?.refreshAdmin();
    await this.director(id).agent?.pair?.poll();
    await this.settle();
  }

  async pollAll(): Promise<void> {
    for (const id of this.directors.keys()) await this.poll(id);
  }

  /** Every probe publishes its full view (the truth) of the service. */
  async voteRound(): Promise<void> {
    for (const probe of SIM_PROBES) {
      this.probeBus.publish(subjects.votes(this.config.cluster, probe.id, "web"), {
        v: 1,
        cluster: this.config.cluster,
        probe: probe.id,
        site: probe.site,
        service: "web",
        seq: ++this.seq,
        sentAt: this.now,
        intervalMs: 1000,
        votes: SIM_RS.map((rs) => ({
          rs,
          state: this.truth.get(rs) ?? "up",
          since: this.now,
          latencyMs: 1,
          reason: "sim",
        })),
      });
    }
    await this.settle();
  }

  async advance(ms: number): Promise<void> {
    this.now += ms;
    for (const director of this.directors.values()) director.agent?.feed({ type: "tick", now: this.now });
    await this.settle();
  }

  /** Delivers everything due and lets every promise chain run, until quiet (bounded). */
  async settle(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      const delivered = this.network.flush();
      if (delivered === 0) {
        await new Promise((resolve) => setImmediate(resolve));
        if (this.network.flush() === 0) break;
      }
    }
    for (const director of this.directors.values()) {
      await director.agent?.idle();
      await director.agent?.pair?.idle();
    }
  }

  /** The owned kernel table of a director, as a digest. */
  async kernelDigest(id: string): Promise<string> {
    return tableDigest(await this.director(id).driver.read());
  }

  async kernel(id: string): Promise<IpvsTable> {
    return this.director(id).driver.read();
  }

  async dispose(): Promise<void> {
    for (const id of this.directors.keys()) await this.crash(id);
    this.observer?.stop();
  }
}
