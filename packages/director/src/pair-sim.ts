import {
  type Bus,
  createMemoryNetwork,
  type FaultHook,
  type Kv,
  type KvWatcher,
  type MemoryNetwork,
} from "@lvsq/bus";
import type { FleetConfig } from "@lvsq/config";
import type { MemoryDriver } from "@lvsq/ipvs";
import {
  type AdminAction,
  buckets,
  DesiredRecord,
  type IpvsTable,
  tableDigest,
  type VoteState,
} from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { DirectorAgent } from "./agent.js";
import {
  adminRecord,
  ROGUE,
  removedWhileUp,
  rogueRecord,
  SIM_PROBES,
  SIM_RS,
  type SimDirector,
  type SimWrite,
  simConfig,
  simDirector,
  voteBatch,
} from "./pair-sim-world.js";

/**
 * A simulated director pair for tests and the bench: DirectorAgents with in-memory kernel tables on one
 * in-process network with a fake clock and manual delivery, three probes (one per site) voting on one
 * service (pair-sim-world.ts), and hooks for crashes, restarts, partitions, drops and delays. Lease rounds
 * are driven by the caller (`poll`), so a schedule is a plain list of steps.
 */
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
  private readonly logger = createLogger({ level: (process.env.LVSQ_PAIR_LOG as "debug") ?? "silent" });

  constructor(options: { directors?: readonly string[]; leaseTtl?: string } = {}) {
    this.config = simConfig(options.directors, options.leaseTtl);
    this.network = createMemoryNetwork({ now: () => this.now, manualDelivery: true, logger: this.logger });
    this.probeBus = this.network.connect("probes");
  }

  /**
   * Faults apply to everything but the observer (whose job is to see the truth) and the directors'
   * heartbeats: the agent's first heartbeat runs on a real timer, so a fault decision drawn for it would
   * come at a different point of the hook's random sequence from run to run, and a schedule would not replay.
   */
  setFaults(hook: FaultHook | undefined): void {
    const status = `lvsq.${this.config.cluster}.status.`;
    this.network.setFaultHook(
      hook === undefined
        ? undefined
        : (d) => (d.to === "observer" || d.subject.startsWith(status) ? "deliver" : hook(d)),
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
    for (const id of this.config.directors.map((d) => d.id)) this.directors.set(id, simDirector(id));
    // A fleet whose lease bucket has been there for longer than a lease time: a director's first round
    // finding an empty key in a bucket younger than that holds off (it may have just been made again).
    // (its age by the server's clock: a message stored a lease time after it was made, here another
    // pair's lease).
    const ttlMs = this.config.director.leaseTtlMs;
    const leases = await bus.kv(buckets.leases(this.config.cluster), { ttlMs });
    this.now += ttlMs + 1000;
    await leases.put("another-pair", { v: 1 });
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
    director.kernelNow = await director.driver.read();
    const bus = this.network.connect(id);
    director.bus = bus;
    const driver = director.driver;
    const observed = {
      read: () => driver.read(),
      apply: async (ops: Parameters<MemoryDriver["apply"]>[0]) => {
        const result = await driver.apply(ops);
        director.kernelNow = await driver.read();
        director.applies.push({ at: this.now, digest: tableDigest(director.kernelNow) });
        return result;
      },
    };
    let agent: DirectorAgent | undefined;
    const leaseTtlMs = director.leaseTtlMs;
    const config =
      leaseTtlMs === undefined
        ? this.config
        : { ...this.config, director: { ...this.config.director, leaseTtlMs } };
    agent = await DirectorAgent.start({
      config,
      directorId,
      bus,
      driver: observed,
      logger: this.logger.child({ director: id }),
      now: () => this.now + director.skewMs,
      clock: () => this.now,
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
          generation: this.desiredGeneration,
          removedWhileUp: removedWhileUp(agent, director.kernelNow, table),
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
    await this.observerKv!.put(`edge.web`, rogueRecord(this.config, epoch, down, this.now));
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
    const record = adminRecord(rs, action, this.now);
    await kv.put(record.key, record.value);
    await this.settle();
  }

  /**
   * A second live process with the id of director `id` (a replacement started early, a hung process
   * restarted by its supervisor), on its own connection and kernel. Returns its handle.
   */
  async startTwin(id: string): Promise<SimDirector> {
    const twinId = `${id}~twin`;
    const twin = simDirector(twinId);
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
      const { subject, batch } = voteBatch(this.config, probe, ++this.seq, this.truth, this.now);
      this.probeBus.publish(subject, batch);
    }
    await this.settle();
  }

  async advance(ms: number): Promise<void> {
    this.now += ms;
    for (const director of this.directors.values()) director.agent?.tick();
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
