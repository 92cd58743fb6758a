import type { BusSubscription } from "@lvsq/bus";
import type { FleetConfig } from "@lvsq/config";
import {
  type AdminCommand,
  type DirectorState,
  drainingRealServers,
  type EngineInput,
  explain,
  initialState,
  ownedServiceKeys,
  type StepResult,
  step,
} from "@lvsq/engine";
import { type DirectorRole, type IpvsTable, subjects, VoteBatch } from "@lvsq/protocol";
import { every } from "@lvsq/runtime";
import type { DirectorOptions } from "./agent-options.js";
import type { AdminWatch } from "./admin-watch.js";
import { createDirectorParts } from "./agent-startup.js";
import type { DrainRounds, PairDrainReports } from "./pair-drains.js";
import type { PairCoordinator } from "./pair-coordinator.js";
import { createPairHost, type PairHost } from "./pair-host.js";
import { type DirectorCounts, emptyCounts, publishHeartbeat } from "./heartbeat.js";
import type { KernelTable } from "./kernel-table.js";
import { VoteIntake } from "./vote-intake.js";
import { type AnyDirectorEvent, explainAnswer, publishEvent } from "./publish.js";
import type { Notifier } from "./notify.js";
import type { RoleLog } from "./role-log.js";
import { UnpairedGate } from "./unpaired-gate.js";

export type { DirectorOptions } from "./agent-options.js";

/**
 * The director agent: votes from the bus → engine.step → ipvs plan/apply, coalesced to one batch in flight.
 * Reads the kernel table first and treats it as current; reconciles every `reconcileInterval`; never touches
 * services the config does not own; on stop leaves the kernel table exactly as it is.
 */
export class DirectorAgent {
  private config: FleetConfig;
  private state: DirectorState;
  private owned: Set<string>;
  private readonly kernel: KernelTable;
  private readonly timers: { stop(): void }[] = [];
  private readonly subscriptions: BusSubscription[] = [];
  /** This director's wall clock (ms): set at start, then moved by the monotonic clock (never stepped). */
  readonly now: () => number;
  private readonly startedAt: number;
  private readonly intake: VoteIntake;
  private readonly counts: DirectorCounts = emptyCounts();
  private stopped = false;
  /** Set when the config puts this director in a pair with a partner (see pair-coordinator.ts). */
  private readonly pairing: PairCoordinator | undefined;
  private readonly roleLog: RoleLog;
  /** Runs the config's notify hooks off the decision path (notify.ts). */
  readonly notifier: Notifier;
  /** Set once the pair (if any) has started: before that a paired director has no role to report yet. */
  private begun = false;
  private readonly drainReports: PairDrainReports | undefined;
  private readonly drains: DrainRounds;
  private readonly adminWatch: AdminWatch | undefined;
  private readonly unpairedGate: UnpairedGate;
  private readonly clock: () => number;
  /** The host's wall clock as it is (it may step): only for timestamps other hosts read (lease records). */
  private readonly wallNow: () => number;

  private constructor(private readonly options: DirectorOptions) {
    this.config = options.config;
    const wall = options.now ?? Date.now;
    this.clock = options.clock ?? options.now ?? (() => performance.now());
    // Vote ages, hysteresis and startup grace run on the monotonic clock, read as wall time from the
    // start: a wall clock stepped back (NTP, a VM resumed) would keep a silent probe's votes alive for
    // the size of the step, and one stepped forward would expire every vote at once.
    const wallAtStart = wall();
    const clockAtStart = this.clock();
    this.now = () => wallAtStart + (this.clock() - clockAtStart);
    this.wallNow = wall;
    this.startedAt = this.now();
    this.state = initialState(this.config, options.directorId);
    this.owned = ownedServiceKeys(this.config);
    this.intake = new VoteIntake(this.counts, options.metrics, options.logger, this.now);
    const parts = createDirectorParts(options, {
      config: () => this.config,
      owned: () => this.owned,
      role: () => this.role,
      counts: this.counts,
      now: this.now,
      wallNow: this.wallNow,
      clock: this.clock,
      emit: (event) => this.emit(event),
      publishHeartbeat: () => this.publishHeartbeat(),
      admin: (command) => void this.admin(command),
      // An unpaired director held its decisions while it lacked the overrides: apply the current ones now.
      overridesCurrent: () => {
        if (!this.pairing && this.begun && !this.stopped) this.submit(this.state.desired, 0);
      },
      pairHost: () => this.pairHost(),
    });
    this.kernel = parts.kernel;
    this.pairing = parts.pairing;
    this.drainReports = parts.drainReports;
    this.drains = parts.drains;
    this.adminWatch = parts.adminWatch;
    this.unpairedGate = new UnpairedGate({
      adminWatch: parts.adminWatch,
      bus: options.bus,
      logger: options.logger,
      opened: () => {
        if (this.begun && !this.stopped) this.submit(this.state.desired, 0);
      },
    });
    this.notifier = parts.notifier;
    this.roleLog = parts.roleLog;
  }

  static async start(options: DirectorOptions): Promise<DirectorAgent> {
    const agent = new DirectorAgent(options);
    await agent.begin();
    return agent;
  }

  private async begin(): Promise<void> {
    const { bus, logger, config } = this.options;
    const kernel = await this.kernel.readAtStart(this.options.startReadRetryMs);
    logger.info(
      { services: kernel.services.length, owned: this.owned.size },
      "read the kernel table; treating it as current",
    );
    // A paired director adopts the kernel only once the pair's last desired tables are read from KV.
    if (!this.pairing) {
      const adopted = this.feed({ type: "observed", table: kernel, now: this.now() });
      // `changed` compares with the engine's own last table, not the kernel: hand the first table to the loop,
      // which writes only what the kernel lacks (an owned service not there yet), not wait for a reconcile.
      if (!adopted.changed) this.submit(adopted.desired, 0);
    }
    this.subscriptions.push(
      bus.subscribe(subjects.allVotes(config.cluster), VoteBatch, (batch, subject) =>
        this.onVotes(batch, subject),
      ),
      bus.serve(subjects.explain(config.cluster, this.options.directorId), (request) =>
        this.answerExplain(request),
      ),
    );
    this.timers.push(
      every(this.options.tickMs ?? 250, () => void this.tick()),
      every(this.config.director.reconcileIntervalMs, () => this.reconcile(), {
        onError: (e) => logger.error({ err: e }, "reconcile failed"),
      }),
      every(this.options.heartbeatMs ?? 2000, () => this.publishHeartbeat(), { immediate: true }),
      every(1000, () => this.kernel.repairIfDue(), { onError: () => {} }),
      every(2000, () => this.checkDrains(), {
        onError: (e) => logger.debug({ err: e }, "cannot read connection counts"),
      }),
    );
    this.drainReports?.start();
    // The overrides before the lease: a director that would lead without them would decide without them.
    await this.adminWatch?.start();
    await this.pairing?.start();
    this.begun = true;
    this.roleLog.note();
    const offStatus = bus.onStatus((status) => this.roleLog.busStatus(status.type));
    this.timers.push({ stop: offStatus });
  }

  /** Whether this director has a complete, current view of the admin overrides (always, standalone). */
  overridesCurrent(): boolean {
    return this.adminWatch?.current() ?? true;
  }

  /** One full re-read of the admin overrides (simulations drive it; otherwise it runs on its timer). */
  async refreshAdmin(): Promise<void> {
    await this.adminWatch?.refresh();
  }

  /** Feeds one engine input and acts on the result (events out, apply when the desired table changed). */
  /** One engine tick at the agent's own time (what its timer does; simulations drive it by hand). */
  tick(): StepResult {
    return this.feed({ type: "tick", now: this.now() });
  }

  feed(input: EngineInput): StepResult {
    const result = step(this.state, input);
    this.state = result.state;
    // A follower keeps deciding (so a takeover decides at once) but only the leader announces decisions.
    // Without a complete, current view of the admin overrides nobody decides (a disabled server would return).
    const decides = this.pairing ? this.pairing.mayDecide() : this.unpairedGate.decides();
    for (const event of result.events) {
      if (decides) this.emit(event);
      else this.options.logger.debug({ event: event.type, service: event.service }, "follower decision");
    }
    if (result.dropped)
      this.intake.dropped(result.dropped, input.type === "votes" ? input.batch.probe : input.type);
    if (result.changed && !this.stopped && decides) {
      this.submit(result.desired, this.pairing?.epoch ?? 0);
      this.pairing?.published(result.changedServices);
    } else if (result.changed && !this.stopped) this.pairing?.withheld(result.changedServices);
    if (!decides && !this.stopped) this.pairing?.stepped();
    return result;
  }

  admin(command: AdminCommand): StepResult {
    return this.feed({ type: "admin", command, now: this.now() });
  }

  /**
   * A drained real server leaves once no kernel that may carry its connections has any left: this
   * director's alone, or in a pair every member's (each reports its own in its heartbeat; the leader decides).
   */
  async checkDrains(): Promise<void> {
    if (this.stopped) return;
    await this.drains.round({
      config: this.config,
      draining: drainingRealServers(this.state),
      kernel: this.kernel.lastObserved,
      decides: this.pairing ? this.pairing.mayDecide() : this.unpairedGate.decides(),
      now: this.now(),
      disable: (command) => this.admin(command),
    });
  }

  /** Applies a new, already validated config (SIGHUP); services it adds adopt what the kernel has. */
  async reload(config: FleetConfig): Promise<void> {
    const before = this.owned;
    this.config = config;
    this.owned = ownedServiceKeys(config);
    this.kernel.retire([...before].filter((key) => !this.owned.has(key)));
    this.feed({ type: "config", config, now: this.now() });
    await this.kernel.idle();
    const kernel = await this.kernel.read();
    this.feed({ type: "observed", table: kernel, now: this.now() });
    this.emit({ type: "config-reloaded", service: "*", services: Object.keys(config.services).length });
  }

  explain(service: string, rs?: string) {
    return explain(this.state, service, rs, this.now());
  }

  get role(): DirectorRole {
    if (this.options.standalone) return "standalone";
    if (this.pairing) return this.pairing.role;
    return this.options.bus.isConnected() ? "leader" : "isolated";
  }

  stats() {
    return {
      ...this.counts,
      digest: this.kernel.digest,
      role: this.role,
      epoch: this.pairing?.epoch ?? 0,
      appliedEpoch: this.kernel.appliedEpoch,
    };
  }

  /** The pair side of this director (undefined when unpaired): role, epoch, leader, `poll()`. */
  get pair(): PairCoordinator | undefined {
    return this.pairing;
  }

  /** Stops deciding and applying; waits for an apply in flight. The kernel table stays as it is. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.kernel.halt();
    this.roleLog.stop();
    this.adminWatch?.stop();
    this.drainReports?.stop();
    await this.pairing?.stop();
    for (const timer of this.timers.splice(0)) timer.stop();
    for (const sub of this.subscriptions.splice(0)) sub.unsubscribe();
    await this.kernel.idle();
  }

  /** Waits until no apply is pending (tests and `lvsq run` use it before reading the kernel). */
  idle(): Promise<void> {
    return this.kernel.idle();
  }

  /** Re-reads the kernel and repairs drift from the last desired table (also run every reconcileInterval). */
  reconcile(): Promise<void> {
    return this.kernel.reconcile();
  }

  private onVotes(batch: VoteBatch, subject: string): void {
    if (!this.intake.admit(batch, subject)) return;
    const result = this.feed({ type: "votes", batch, now: this.now() });
    this.intake.accepted(batch.votes.length - (result.dropped?.votes ?? 0));
  }

  private answerExplain(request: unknown) {
    return explainAnswer(request, (service, rs) => this.explain(service, rs), {
      director: this.options.directorId,
      role: this.role,
      at: this.now(),
      decidedBy: (service) =>
        this.pairing?.decidedBy(service) ?? { director: this.options.directorId, epoch: 0, leader: true },
    });
  }

  private submit(table: IpvsTable, epoch: number): void {
    this.kernel.submit(table, epoch);
  }

  private pairHost(): PairHost {
    return createPairHost({
      directorId: this.options.directorId,
      config: () => this.config,
      state: () => this.state,
      kernel: () => this.kernel.lastObserved,
      feed: (input) => void this.feed(input),
      submit: (table, epoch) => (this.stopped ? undefined : this.submit(table, epoch)),
      now: this.now,
      emit: (event) => this.emit(event),
      overridesCurrent: () => this.overridesCurrent(),
    });
  }

  private emit(event: AnyDirectorEvent): void {
    this.notifier.event(event);
    const source = { cluster: this.config.cluster, director: this.options.directorId, at: this.now() };
    publishEvent(this.options.bus, this.options.logger, source, event);
  }

  private publishHeartbeat(): void {
    if (this.begun) this.roleLog.note();
    const role = this.role;
    publishHeartbeat(this.options.bus, {
      config: this.config,
      director: this.options.directorId,
      role,
      startedAt: this.startedAt,
      now: this.now(),
      epoch: this.pairing?.epoch ?? 0,
      kernel: this.kernel,
      desired: this.state.desired,
      counts: this.counts,
      metrics: this.options.metrics,
      drains: this.drains.counts,
    });
  }
}
