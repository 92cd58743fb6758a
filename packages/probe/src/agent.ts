import type { FleetConfig, ServiceConfig } from "@lvsq/config";
import { LVSQ_VERSION, type ProbeHeartbeat, subjects, type VoteBatch } from "@lvsq/protocol";
import { every, type Logger, type ProbeMetrics } from "@lvsq/runtime";
import { ConcurrencyLimiter } from "./limiter.js";
import type { CheckRunner, ProbeBus } from "./ports.js";
import { applyResult, initialRiseFall, pendingOf, type RiseFallState, voteOf } from "./rise-fall.js";

export type ProbeOptions = {
  config: FleetConfig;
  probeId: string;
  bus: ProbeBus;
  runCheck: CheckRunner;
  logger: Logger;
  now?: () => number;
  random?: () => number;
  /** Checks in flight at once across all services (default 512). */
  maxConcurrent?: number;
  heartbeatIntervalMs?: number;
  /** Prometheus metrics (`--metrics`): checks by result, check latency, vote flips. */
  metrics?: Pick<ProbeMetrics, "recordCheck" | "voteFlips">;
};

type Target = {
  service: string;
  /** The real server as votes name it (the kernel's address). */
  rs: string;
  /** Where its checks connect (differs for a dr/tunnel server written with its own port). */
  checkAddress: string;
  weight: number;
  checkKey: string;
  state: RiseFallState;
};

export type ProbeStats = {
  checksTotal: number;
  errorsTotal: number;
  batchesPublished: number;
  batchesSkipped: number;
  flips: number;
};

/**
 * The probe agent: checks every real server of the services assigned to it on the service's interval (first
 * run jittered), keeps rise/fall per (service, real server), and publishes each service's full vote batch once
 * per interval and at once on a flip. While the bus is down it keeps checking and keeps only the latest state;
 * it republishes everything when the bus comes back.
 */
export class ProbeAgent {
  private config: FleetConfig;
  private readonly site: string;
  private readonly targets = new Map<string, Target>();
  /** The same targets grouped by service, so building one service's batch never walks the whole fleet. */
  private readonly byService = new Map<string, Target[]>();
  private readonly timers: { stop(): void }[] = [];
  private readonly abort = new AbortController();
  private readonly limiter: ConcurrencyLimiter;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly startedAt: number;
  private seq: number;
  private stopped = false;
  private readonly unsubscribe: () => void;
  private checksInWindow = 0;
  /** Set when the bus dropped since the last heartbeat sent: the next one says `connected: false`. */
  private disconnectedSinceBeat = false;
  private windowStart: number;
  readonly stats: ProbeStats = {
    checksTotal: 0,
    errorsTotal: 0,
    batchesPublished: 0,
    batchesSkipped: 0,
    flips: 0,
  };

  constructor(private readonly options: ProbeOptions) {
    this.config = options.config;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.limiter = new ConcurrencyLimiter(options.maxConcurrent ?? 512);
    const me = this.config.probes.find((p) => p.id === options.probeId);
    if (!me) throw new Error(`probe "${options.probeId}" is not in the config's probes`);
    this.site = me.site;
    this.startedAt = this.now();
    this.windowStart = this.startedAt;
    // Seq continues across restarts (wall clock in µs, then +1 per batch) so a director never takes a
    // restarted probe's batches for replays.
    this.seq = this.startedAt * 1000;
    this.unsubscribe = options.bus.onStatus((status) => {
      if (status.type !== "connected" && status.type !== "reconnected" && status.type !== "disconnected")
        return;
      const connected = status.type !== "disconnected";
      if (!connected) this.disconnectedSinceBeat = true;
      options.logger.info(
        { probe: options.probeId, connected },
        connected ? "bus connected: republishing full state" : "bus disconnected: holding latest state",
      );
      if (connected) for (const service of this.myServices()) this.publishService(service.id);
    });
    this.schedule();
    const heartbeatMs = options.heartbeatIntervalMs ?? 2000;
    this.timers.push(every(heartbeatMs, () => this.heartbeat(), { immediate: true }));
  }

  /** Applies a new (already validated) config; votes of unchanged checks keep their rise/fall state. */
  reload(config: FleetConfig): void {
    if (!config.probes.some((p) => p.id === this.options.probeId)) {
      throw new Error(`probe "${this.options.probeId}" is not in the new config; keeping the old one`);
    }
    this.stopTimers();
    this.config = config;
    this.schedule();
  }

  /** Stops checking and publishing; aborts checks in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopTimers();
    this.unsubscribe();
    this.abort.abort(new Error("probe stopping"));
    await Promise.allSettled([...this.inFlight]);
  }

  /** The votes this probe would publish now, per service. */
  snapshot(): Record<string, VoteBatch["votes"]> {
    const out: Record<string, VoteBatch["votes"]> = {};
    for (const service of this.myServices()) out[service.id] = this.votesOf(service.id);
    return out;
  }

  private myServices(): ServiceConfig[] {
    return Object.values(this.config.services).filter((s) => s.probes.includes(this.options.probeId));
  }

  private schedule(): void {
    const keep = new Map(this.targets);
    this.targets.clear();
    this.byService.clear();
    const services = this.myServices();
    if (services.length === 0)
      this.options.logger.warn({ probe: this.options.probeId }, "no service is assigned to this probe");
    for (const service of services) {
      const checkKey = JSON.stringify(service.check);
      for (const rs of service.realServers) {
        const key = `${service.id}|${rs.address}`;
        const previous = keep.get(key);
        const target: Target = {
          service: service.id,
          rs: rs.address,
          checkAddress: rs.checkAddress ?? rs.address,
          weight: rs.weight,
          checkKey,
          state: previous && previous.checkKey === checkKey ? previous.state : initialRiseFall(this.now()),
        };
        this.targets.set(key, target);
        const group = this.byService.get(service.id);
        if (group) group.push(target);
        else this.byService.set(service.id, [target]);
        this.timers.push(
          every(service.check.intervalMs, () => this.checkOnce(service, target), {
            jitter: 1,
            random: this.random,
          }),
        );
      }
      this.timers.push(
        every(service.check.intervalMs, () => this.publishService(service.id), {
          jitter: 1,
          random: this.random,
        }),
      );
    }
  }

  private checkOnce(service: ServiceConfig, target: Target): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const run = this.limiter
      .run(() =>
        this.options.runCheck(
          service.check,
          { address: target.checkAddress, service: service.id, weight: target.weight },
          { signal: this.abort.signal },
        ),
      )
      .then((result) => {
        if (this.stopped || this.targets.get(`${target.service}|${target.rs}`) !== target) return;
        this.stats.checksTotal++;
        this.checksInWindow++;
        if (result.verdict === "abstain") this.stats.errorsTotal++;
        this.options.metrics?.recordCheck(service.id, result.verdict, result.latencyMs);
        const before = voteOf(target.state);
        const warnedBefore = target.state.warning;
        const step = applyResult(target.state, result, service.check, this.now());
        target.state = step.state;
        const fields = { probe: this.options.probeId, site: this.site, service: service.id, rs: target.rs };
        if (step.state.warning && !warnedBefore) {
          this.options.logger.warn({ ...fields, reason: result.reason }, "check warning (still up)");
        }
        this.options.logger.debug(
          { ...fields, verdict: result.verdict, latencyMs: result.latencyMs, reason: result.reason },
          "check",
        );
        if (step.flipped) {
          this.stats.flips++;
          this.options.metrics?.voteFlips.inc({ service: service.id });
          this.options.logger.info(
            { ...fields, from: before, to: voteOf(target.state), reason: result.reason },
            "vote changed",
          );
          this.publishService(service.id);
        }
      });
    this.inFlight.add(run);
    return run.finally(() => this.inFlight.delete(run));
  }

  private votesOf(serviceId: string): VoteBatch["votes"] {
    const votes: VoteBatch["votes"] = [];
    const check = this.config.services[serviceId]?.check;
    for (const target of this.byService.get(serviceId) ?? []) {
      const s = target.state;
      votes.push({
        rs: target.rs,
        state: voteOf(s),
        since: s.since,
        latencyMs: Math.round(s.latencyMs * 1000) / 1000,
        reason: s.reason.slice(0, 256),
        ...(s.weight !== undefined && voteOf(s) === "up" ? { weight: s.weight } : {}),
        ...(check ? pendingField(s, check) : {}),
        ...(s.warning && voteOf(s) === "up" ? { warning: true } : {}),
      });
    }
    return votes;
  }

  private publishService(serviceId: string): void {
    if (this.stopped) return;
    if (!this.options.bus.isConnected()) {
      this.stats.batchesSkipped++;
      return;
    }
    const service = this.config.services[serviceId];
    if (!service) return;
    const batch: VoteBatch = {
      v: 1,
      cluster: this.config.cluster,
      probe: this.options.probeId,
      site: this.site,
      service: serviceId,
      seq: ++this.seq,
      sentAt: this.now(),
      intervalMs: service.check.intervalMs,
      votes: this.votesOf(serviceId),
    };
    this.options.bus.publish(subjects.votes(this.config.cluster, this.options.probeId, serviceId), batch);
    this.stats.batchesPublished++;
  }

  private heartbeat(): void {
    const now = this.now();
    const windowMs = Math.max(1, now - this.windowStart);
    const heartbeat: ProbeHeartbeat = {
      v: 1,
      type: "probe",
      cluster: this.config.cluster,
      probe: this.options.probeId,
      site: this.site,
      version: LVSQ_VERSION,
      sentAt: now,
      uptimeMs: now - this.startedAt,
      checksPerSecond: Math.round((this.checksInWindow * 1000 * 10) / windowMs) / 10,
      checksTotal: this.stats.checksTotal,
      errorsTotal: this.stats.errorsTotal,
      // A heartbeat only goes out while connected: it says whether the probe was cut off since the last one.
      connected: this.options.bus.isConnected() && !this.disconnectedSinceBeat,
    };
    this.checksInWindow = 0;
    this.windowStart = now;
    if (this.options.bus.isConnected()) {
      const sent = this.options.bus.publish(
        subjects.probeStatus(this.config.cluster, this.options.probeId),
        heartbeat,
      );
      if (sent) this.disconnectedSinceBeat = false;
    }
  }

  private stopTimers(): void {
    for (const timer of this.timers.splice(0)) timer.stop();
  }
}

function pendingField(state: RiseFallState, limits: { rise: number; fall: number }) {
  const pending = pendingOf(state, limits);
  return pending ? { pending } : {};
}
