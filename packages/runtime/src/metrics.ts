import { createServer } from "node:http";
import { type HttpAuth, requireAuth, warnIfExposed } from "./http-auth.js";
import { listenHttp } from "./http-listen.js";
import type { Logger } from "pino";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * Prometheus metrics of the agents (`--metrics HOST:PORT`). Every metric lives in a registry the agent creates
 * (no global registry: two agents in one process, as in `lvsq run`, each get their own set). Names follow
 * Prometheus conventions: `_total` counters, `_seconds` histograms, base units. Documented in docs/status.md.
 */
export { Registry };

/** A registry with the process metrics (`lvsq_process_*`, `lvsq_nodejs_*`) already in it. */
export function createMetricsRegistry(options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "lvsq_" });
  return registry;
}

/** Check latency buckets in seconds: loopback checks take ~1 ms, timeouts end at a few seconds. */
const CHECK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Apply latency buckets in seconds: one `ipvsadm -R` batch, target < 50 ms, 10k servers < 1 s. */
const APPLY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export type CheckResultLabel = "up" | "down" | "abstain";

export type ProbeMetrics = {
  /** `lvsq_probe_checks_total{service,result}` */
  checks: Counter<"service" | "result">;
  /** `lvsq_probe_check_duration_seconds{service}` */
  checkDuration: Histogram<"service">;
  /** `lvsq_probe_vote_flips_total{service}`: votes that changed after rise/fall. */
  voteFlips: Counter<"service">;
  /** Records one finished check (latency in ms, as checks report it). */
  recordCheck(service: string, result: CheckResultLabel, latencyMs: number): void;
};

export function createProbeMetrics(registry: Registry): ProbeMetrics {
  const registers = [registry];
  const checks = new Counter({
    name: "lvsq_probe_checks_total",
    help: "Health checks finished, by service and result (up, down, abstain = the checker itself failed)",
    labelNames: ["service", "result"] as const,
    registers,
  });
  const checkDuration = new Histogram({
    name: "lvsq_probe_check_duration_seconds",
    help: "Health check latency in seconds, by service",
    labelNames: ["service"] as const,
    buckets: CHECK_BUCKETS,
    registers,
  });
  const voteFlips = new Counter({
    name: "lvsq_probe_vote_flips_total",
    help: "Votes that changed (after rise/fall), by service",
    labelNames: ["service"] as const,
    registers,
  });
  return {
    checks,
    checkDuration,
    voteFlips,
    recordCheck(service, result, latencyMs) {
      checks.inc({ service, result });
      checkDuration.observe({ service }, latencyMs / 1000);
    },
  };
}

export type DirectorRoleLabel = "standalone" | "leader" | "follower" | "isolated";

export type DirectorMetrics = {
  /** `lvsq_director_votes_received_total`: votes (not batches) accepted into the vote store. */
  votesReceived: Counter<never>;
  /** `lvsq_director_votes_dropped_total{reason}`: votes dropped (schema, replayed-seq, unknown-service, …). */
  votesDropped: Counter<"reason">;
  /** `lvsq_director_real_servers{service,state}`: real servers up / down in the desired table. */
  realServers: Gauge<"service" | "state">;
  /** `lvsq_director_applies_total{result}`: `ipvsadm -R` batches, result ok | error. */
  applies: Counter<"result">;
  /** `lvsq_director_apply_duration_seconds`: one apply batch, plan to exit. */
  applyDuration: Histogram<never>;
  /** `lvsq_director_drift_repairs_total`: reconciles that found the kernel differing and repaired it. */
  driftRepairs: Counter<never>;
  /** `lvsq_director_leader_epoch`: the epoch of the table this director acts on (the lease revision). */
  leaderEpoch: Gauge<never>;
  /** `lvsq_director_isolated`: 1 while cut off from NATS (table kept as it is), else 0. */
  isolated: Gauge<never>;
  /** `lvsq_director_role{role}`: 1 for the current role, 0 for the others. */
  role: Gauge<"role">;
  /** `lvsq_director_notify_hooks_total{result}`: notify hook runs, result ok | failed | timeout | dropped. */
  notifyHooks: Counter<"result">;
  setRealServers(service: string, up: number, down: number): void;
  /** Records one apply (duration in ms). */
  recordApply(ok: boolean, durationMs: number): void;
  /** Sets the role gauges and the isolated flag together. */
  setRole(role: DirectorRoleLabel): void;
};

export function createDirectorMetrics(registry: Registry): DirectorMetrics {
  const registers = [registry];
  const votesReceived = new Counter({
    name: "lvsq_director_votes_received_total",
    help: "Votes accepted into the vote store",
    registers,
  });
  const votesDropped = new Counter({
    name: "lvsq_director_votes_dropped_total",
    help: "Votes dropped, by reason",
    labelNames: ["reason"] as const,
    registers,
  });
  const realServers = new Gauge({
    name: "lvsq_director_real_servers",
    help: "Real servers in the desired table, by service and state (up, down)",
    labelNames: ["service", "state"] as const,
    registers,
  });
  const applies = new Counter({
    name: "lvsq_director_applies_total",
    help: "Table applies (one ipvsadm -R batch each), by result (ok, error)",
    labelNames: ["result"] as const,
    registers,
  });
  const applyDuration = new Histogram({
    name: "lvsq_director_apply_duration_seconds",
    help: "Duration of one table apply in seconds",
    buckets: APPLY_BUCKETS,
    registers,
  });
  const driftRepairs = new Counter({
    name: "lvsq_director_drift_repairs_total",
    help: "Reconciles that found the kernel table differing from the desired one and repaired it",
    registers,
  });
  const leaderEpoch = new Gauge({
    name: "lvsq_director_leader_epoch",
    help: "Epoch (lease revision) of the table this director acts on",
    registers,
  });
  const isolated = new Gauge({
    name: "lvsq_director_isolated",
    help: "1 while the director is cut off from NATS and keeps its table as it is",
    registers,
  });
  const role = new Gauge({
    name: "lvsq_director_role",
    help: "1 for the director's current role (standalone, leader, follower, isolated)",
    labelNames: ["role"] as const,
    registers,
  });
  const notifyHooks = new Counter({
    name: "lvsq_director_notify_hooks_total",
    help: "Notify hook runs, by result (ok, failed, timeout, dropped when too many were queued)",
    labelNames: ["result"] as const,
    registers,
  });
  const roles: DirectorRoleLabel[] = ["standalone", "leader", "follower", "isolated"];
  return {
    votesReceived,
    votesDropped,
    realServers,
    applies,
    applyDuration,
    driftRepairs,
    leaderEpoch,
    isolated,
    role,
    notifyHooks,
    setRealServers(service, up, down) {
      realServers.set({ service, state: "up" }, up);
      realServers.set({ service, state: "down" }, down);
    },
    recordApply(ok, durationMs) {
      applies.inc({ result: ok ? "ok" : "error" });
      applyDuration.observe(durationMs / 1000);
    },
    setRole(current) {
      for (const r of roles) role.set({ role: r }, r === current ? 1 : 0);
      isolated.set(current === "isolated" ? 1 : 0);
    },
  };
}

/**
 * `HOST:PORT`, `[v6]:PORT`, or `:PORT` / `PORT` for loopback (127.0.0.1): an endpoint is private unless
 * the operator names an address to expose it on (`0.0.0.0:9101`, `[::]:9101`). Port 0 picks a free one.
 */
export function parseHostPort(text: string): { host: string; port: number } | { error: string } {
  const match = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) {
    return {
      error: `expected HOST:PORT (e.g. 127.0.0.1:9101, [::1]:9101, 0.0.0.0:9101) or PORT for loopback, got "${text}"`,
    };
  }
  const host = match[1] ?? (match[2] || "127.0.0.1");
  return { host, port };
}

export type MetricsServer = {
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** `http://host:port/metrics` */
  readonly url: string;
  close(): Promise<void>;
};

/**
 * Serves `registry` as Prometheus text on `GET /metrics` (and `/` for a pointer), to requests that carry a
 * credential of `options.auth` when given. Rejects when the address is malformed or cannot be bound, so the
 * agent can exit with a clear message instead of running blind.
 */
export async function serveMetrics(
  hostPort: string,
  registry: Registry,
  logger: Logger,
  options: { auth?: HttpAuth } = {},
): Promise<MetricsServer> {
  const address = parseHostPort(hostPort);
  if ("error" in address) throw new Error(`--metrics: ${address.error}`);
  const handler = requireAuth(options.auth, (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/metrics") {
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        (error: unknown) => {
          logger.error({ err: error }, "metrics: collecting failed");
          res.writeHead(500, { "content-type": "text/plain" }).end("metrics collection failed\n");
        },
      );
      return;
    }
    const body = path === "/" ? "lvsq metrics: see /metrics\n" : "not found\n";
    res.writeHead(path === "/" ? 200 : 404, { "content-type": "text/plain" }).end(body);
  });
  const server = createServer(handler);
  // A scraper keeps connections alive; they must not hold the process open at stop.
  server.keepAliveTimeout = 5_000;
  const bound = await listenHttp(server, address);
  const url = `${bound.baseUrl}/metrics`;
  logger.info({ url, auth: options.auth !== undefined }, "metrics: serving Prometheus text");
  warnIfExposed(address.host, options.auth, logger, "metrics");
  return { port: bound.port, url, close: bound.close };
}
