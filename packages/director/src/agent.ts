import type { Bus, BusSubscription } from "@lvsq/bus";
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
import { type IpvsDriver, IpvsadmError, renderCommands } from "@lvsq/ipvs";
import { type DirectorRole, type IpvsTable, parseVotesSubject, subjects, VoteBatch } from "@lvsq/protocol";
import { type DirectorMetrics, every, type Logger, rateLimitedWarn } from "@lvsq/runtime";
import { AdminWatch } from "./admin-watch.js";
import { finishDrains } from "./drain-watch.js";
import { type ApplyOutcome, ApplyLoop } from "./apply-loop.js";
import { PairCoordinator, type PairHost } from "./pair-coordinator.js";
import { createPairHost } from "./pair-host.js";
import { pairOf } from "./pair-records.js";
import {
  buildHeartbeat,
  type DirectorCounts,
  emptyCounts,
  ownedDigest,
  realServerCounts,
} from "./heartbeat.js";
import { recordRealServers, recordRole } from "./metrics.js";
import { Notifier } from "./notify.js";
import { type AnyDirectorEvent, busDrops, explainAnswer, publishEvent, RoleLog } from "./publish.js";

export type DirectorOptions = {
  config: FleetConfig;
  directorId: string;
  bus: Bus;
  driver: IpvsDriver;
  logger: Logger;
  /** `standalone` in `lvsq run`; otherwise leader/follower/isolated from the bus state. */
  standalone?: boolean;
  now?: () => number;
  tickMs?: number;
  heartbeatMs?: number;
  ipvsadm?: string;
  /** Pair lease round period (default leaseTtl/6); "manual" = the caller drives `pair.poll()` (simulations). */
  pairPollMs?: number | "manual";
  /** Observer of every table handed to the apply loop, with the epoch it belongs to (tests, bench). */
  onSubmit?: (table: IpvsTable, epoch: number) => void;
  /** Prometheus metrics (`--metrics`). */
  metrics?: DirectorMetrics;
};

/**
 * The director agent: votes from the bus → engine.step → ipvs plan/apply, coalesced to one batch in flight.
 * Reads the kernel table first and treats it as current; reconciles every `reconcileInterval`; never touches
 * services the config does not own; on stop leaves the kernel table exactly as it is.
 */
export class DirectorAgent {
  private config: FleetConfig;
  private state: DirectorState;
  private owned: Set<string>;
  private readonly loop: ApplyLoop;
  private readonly timers: { stop(): void }[] = [];
  private readonly subscriptions: BusSubscription[] = [];
  private readonly now: () => number;
  private readonly startedAt: number;
  private readonly warnDrop: ReturnType<typeof rateLimitedWarn>;
  private readonly counts: DirectorCounts = emptyCounts();
  private digest = "unknown";
  private lastApplyAt: number | undefined;
  private lastApplyMs: number | undefined;
  private stopped = false;
  private repairSoon = false;
  /** Set when the config puts this director in a pair with a partner (see pair-coordinator.ts). */
  private readonly pairing: PairCoordinator | undefined;
  private appliedEpoch = 0;
  private submitted = 0;
  private readonly roleLog: RoleLog;
  /** Set once the pair (if any) has started: before that a paired director has no role to report yet. */
  private begun = false;
  private adminWatch: AdminWatch | undefined;
  /** Runs the config's notify hooks off the decision path (notify.ts). */
  readonly notifier: Notifier;

  private constructor(private readonly options: DirectorOptions) {
    this.config = options.config;
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.state = initialState(this.config, options.directorId);
    this.owned = ownedServiceKeys(this.config);
    this.warnDrop = rateLimitedWarn(options.logger, 60_000, this.now);
    this.notifier = new Notifier({
      config: () => this.config,
      directorId: options.directorId,
      logger: options.logger,
      now: this.now,
      ...(options.metrics ? { metrics: options.metrics } : {}),
    });
    const pairName = () => this.config.directors.find((d) => d.id === options.directorId)?.pair;
    this.roleLog = new RoleLog(options.logger, (role, previous) =>
      this.notifier.role(role, previous, pairName()),
    );
    this.loop = new ApplyLoop(
      options.driver,
      () => this.owned,
      options.logger,
      (outcome) => this.onApplied(outcome),
    );
    const pair = options.standalone ? undefined : pairOf(this.config, options.directorId);
    if (pair !== undefined) {
      this.pairing = new PairCoordinator({
        bus: options.bus,
        directorId: options.directorId,
        pair,
        cluster: this.config.cluster,
        ttlMs: this.config.director.leaseTtlMs,
        logger: options.logger,
        host: this.pairHost(),
        now: this.now,
        ...(options.pairPollMs !== undefined ? { pollMs: options.pairPollMs } : {}),
      });
    }
  }

  static async start(options: DirectorOptions): Promise<DirectorAgent> {
    const agent = new DirectorAgent(options);
    await agent.begin();
    return agent;
  }

  private async begin(): Promise<void> {
    const { bus, logger, config } = this.options;
    const kernel = await this.loop.read();
    this.digest = ownedDigest(kernel, this.owned);
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
      every(this.options.tickMs ?? 250, () => void this.feed({ type: "tick", now: this.now() })),
      every(this.config.director.reconcileIntervalMs, () => this.reconcile(), {
        onError: (e) => logger.error({ err: e }, "reconcile failed"),
      }),
      every(this.options.heartbeatMs ?? 2000, () => this.publishHeartbeat(), { immediate: true }),
      every(1000, () => (this.repairSoon ? this.reconcile() : undefined), { onError: () => {} }),
      every(2000, () => this.checkDrains(), {
        onError: (e) => logger.debug({ err: e }, "cannot read connection counts"),
      }),
    );
    await this.pairing?.start();
    this.begun = true;
    if (!this.options.standalone) {
      this.adminWatch = new AdminWatch(bus, config.cluster, (command) => void this.admin(command), logger);
      await this.adminWatch.start();
    }
  }

  /** Feeds one engine input and acts on the result (events out, apply when the desired table changed). */
  feed(input: EngineInput): StepResult {
    const result = step(this.state, input);
    this.state = result.state;
    // A follower keeps deciding (so a takeover decides at once) but only the leader announces decisions.
    const decides = !this.pairing || this.pairing.mayDecide();
    for (const event of result.events) {
      if (decides) this.emit(event);
      else this.options.logger.debug({ event: event.type, service: event.service }, "follower decision");
    }
    if (result.dropped) {
      this.counts.votesDropped += result.dropped.votes;
      this.options.metrics?.votesDropped.inc({ reason: result.dropped.reason }, result.dropped.votes);
      const source = input.type === "votes" ? input.batch.probe : input.type;
      this.warnDrop(
        `${result.dropped.reason}:${source}`,
        { probe: source, reason: result.dropped.reason, detail: result.dropped.detail },
        "dropped votes",
      );
    }
    if (result.changed && !this.stopped && decides) {
      this.submit(result.desired, this.pairing?.epoch ?? 0);
      this.pairing?.published(result.changedServices);
    }
    return result;
  }

  admin(command: AdminCommand): StepResult {
    return this.feed({ type: "admin", command, now: this.now() });
  }

  /** A drained real server leaves once it has no connections (unpaired directors; pairs use --deadline). */
  async checkDrains(): Promise<void> {
    if (this.pairing || this.stopped) return;
    const { driver, logger } = this.options;
    await finishDrains(
      driver,
      this.config,
      drainingRealServers(this.state),
      this.loop.lastObserved,
      logger,
      (command) => this.admin(command),
    );
  }

  /** Applies a new, already validated config (SIGHUP); services it adds adopt what the kernel has. */
  async reload(config: FleetConfig): Promise<void> {
    this.config = config;
    this.owned = ownedServiceKeys(config);
    this.feed({ type: "config", config, now: this.now() });
    await this.loop.idle();
    this.feed({ type: "observed", table: await this.loop.read(), now: this.now() });
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
      digest: this.digest,
      role: this.role,
      epoch: this.pairing?.epoch ?? 0,
      appliedEpoch: this.appliedEpoch,
    };
  }

  /** The pair side of this director (undefined when unpaired): role, epoch, leader, `poll()`. */
  get pair(): PairCoordinator | undefined {
    return this.pairing;
  }

  /** Stops deciding and applying; waits for an apply in flight. The kernel table stays as it is. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.adminWatch?.stop();
    await this.pairing?.stop();
    for (const timer of this.timers.splice(0)) timer.stop();
    for (const sub of this.subscriptions.splice(0)) sub.unsubscribe();
    await this.loop.idle();
  }

  /** Waits until no apply is pending (tests and `lvsq run` use it before reading the kernel). */
  idle(): Promise<void> {
    return this.loop.idle();
  }

  async reconcile(): Promise<void> {
    if (this.stopped) return;
    this.repairSoon = false;
    const ops = await this.loop.reconcile();
    this.digest = ownedDigest(this.loop.lastObserved, this.owned);
    if (ops.length > 0) {
      this.counts.driftRepairs++;
      this.options.metrics?.driftRepairs.inc();
      this.emit({
        type: "drift-repaired",
        service: "*",
        ops: ops.length,
        commands: renderCommands(ops, this.options.ipvsadm).slice(0, 20),
      });
    }
  }

  private onVotes(batch: VoteBatch, subject: string): void {
    const parts = parseVotesSubject(subject);
    if (
      !parts ||
      parts.probe !== batch.probe ||
      parts.service !== batch.service ||
      parts.cluster !== batch.cluster
    ) {
      this.counts.votesDropped += batch.votes.length;
      this.options.metrics?.votesDropped.inc({ reason: "subject-mismatch" }, batch.votes.length);
      this.warnDrop(
        `subject-mismatch:${parts?.probe ?? subject}`,
        { subject, probe: batch.probe, service: batch.service },
        "dropped votes: the subject does not match the payload (forged or misrouted)",
      );
      return;
    }
    const result = this.feed({ type: "votes", batch, now: this.now() });
    const accepted = batch.votes.length - (result.dropped?.votes ?? 0);
    this.counts.votesAccepted += accepted;
    this.options.metrics?.votesReceived.inc(accepted);
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

  /** Asks for `table` in the kernel; `appliedEpoch` moves once the loop has written it without error. */
  private submit(table: IpvsTable, epoch: number): void {
    this.options.onSubmit?.(table, epoch);
    this.loop.submit(table);
    const ticket = ++this.submitted;
    const errors = this.counts.applyErrors;
    void this.loop.idle().then(() => {
      if (ticket === this.submitted && this.counts.applyErrors === errors && epoch > this.appliedEpoch)
        this.appliedEpoch = epoch;
    });
  }

  private pairHost(): PairHost {
    return createPairHost({
      directorId: this.options.directorId,
      config: () => this.config,
      state: () => this.state,
      kernel: () => this.loop.lastObserved,
      feed: (input) => void this.feed(input),
      submit: (table, epoch) => (this.stopped ? undefined : this.submit(table, epoch)),
      now: this.now,
      emit: (event) => this.emit(event),
    });
  }

  private onApplied(outcome: ApplyOutcome): void {
    this.lastApplyAt = this.now();
    this.lastApplyMs = outcome.durationMs;
    const previousDigest = this.digest;
    this.digest = ownedDigest(this.loop.lastObserved, this.owned);
    this.options.metrics?.recordApply(!outcome.error, outcome.durationMs);
    if (!outcome.error) {
      this.counts.applies++;
      this.options.logger.info(
        {
          op: "apply",
          ops: outcome.ops.length,
          durationMs: Math.round(outcome.durationMs * 100) / 100,
          drift: outcome.drift,
        },
        "applied to the kernel table",
      );
      // Beat at once when the table changed: otherwise `lvsq status` compares a fresh digest with a partner's
      // up to one heartbeat old and flags a healthy pair as TABLE DIFFERS FROM PAIR after every transition.
      if (this.digest !== previousDigest && !this.stopped) this.publishHeartbeat();
      return;
    }
    this.counts.applyErrors++;
    this.repairSoon = true;
    const error = outcome.error;
    this.emit({
      type: "apply-error",
      service: "*",
      ops: outcome.ops.length,
      message: error.message,
      ...(error instanceof IpvsadmError
        ? { argv: [...error.argv], exitCode: error.exitCode, stderr: error.stderr.slice(0, 512) }
        : {}),
    });
  }

  private emit(event: AnyDirectorEvent): void {
    this.notifier.event(event);
    const source = { cluster: this.config.cluster, director: this.options.directorId, at: this.now() };
    publishEvent(this.options.bus, this.options.logger, source, event);
  }

  private publishHeartbeat(): void {
    const pair = this.config.directors.find((d) => d.id === this.options.directorId)?.pair;
    const role = this.role;
    if (this.begun) this.roleLog.note(role);
    const perService = realServerCounts(this.config, this.state.desired);
    this.counts.realServersUp = 0;
    this.counts.realServersDown = 0;
    for (const { up, down } of perService.values()) {
      this.counts.realServersUp += up;
      this.counts.realServersDown += down;
    }
    if (this.options.metrics) {
      recordRealServers(this.options.metrics, perService);
      recordRole(this.options.metrics, role, this.pairing?.epoch ?? 0);
    }
    const heartbeat = buildHeartbeat({
      config: this.config,
      director: this.options.directorId,
      pair,
      role,
      startedAt: this.startedAt,
      now: this.now(),
      epoch: this.pairing?.epoch ?? 0,
      appliedEpoch: this.appliedEpoch,
      digest: this.digest,
      lastApplyAt: this.lastApplyAt,
      lastApplyMs: this.lastApplyMs,
      counts: { ...this.counts, messagesDropped: busDrops(this.options.bus) },
    });
    this.options.bus.publish(
      subjects.directorStatus(this.config.cluster, this.options.directorId),
      heartbeat,
    );
  }
}
