import { spawn } from "node:child_process";
import type { FleetConfig } from "@lvsq/config";
import type { DirectorRole } from "@lvsq/protocol";
import type { DirectorMetrics, Logger } from "@lvsq/runtime";

/** Hooks running at once; more wait in the queue. A hook that hangs holds one slot until its deadline. */
const MAX_RUNNING = 8;
/** Transitions waiting for a slot; beyond this they are dropped and counted, never queued without bound. */
const MAX_QUEUED = 256;
/** After the deadline a hook's process group gets SIGTERM; this long after, SIGKILL. */
const KILL_DELAY_MS = 500;
const STDERR_KEPT_BYTES = 256;

export type NotifyStats = { ok: number; failed: number; timeout: number; dropped: number };

type Job = { command: readonly string[]; args: string[]; input: string; label: string };

/** Which hook, if any, an event runs, and the arguments appended to it. */
function hookFor(
  config: FleetConfig,
  event: { type: string; service: string; rs?: unknown },
): Job | undefined {
  const service = config.services[event.service];
  if (!service) return undefined;
  const rs =
    typeof event.rs === "string" ? service.realServers.find((r) => r.address === event.rs) : undefined;
  const pick = (): readonly string[] | undefined => {
    switch (event.type) {
      case "rs-up":
        return rs?.notify?.up ?? service.notify?.up;
      case "rs-down":
        return rs?.notify?.down ?? service.notify?.down;
      case "fallback-on":
        return service.notify?.fallbackOn;
      case "fallback-off":
        return service.notify?.fallbackOff;
      case "weight-quorum-lost":
        return service.notify?.quorumDown;
      case "weight-quorum-gained":
        return service.notify?.quorumUp;
      default:
        return undefined;
    }
  };
  const command = pick();
  if (!command) return undefined;
  const args =
    typeof event.rs === "string" ? [event.type, event.service, event.rs] : [event.type, event.service];
  return { command, args, input: "", label: `${event.type} ${args.slice(1).join(" ")}` };
}

/**
 * Runs operators' notify hooks (keepalived's notify_up / notify_down / quorum_up / quorum_down, and one for
 * the director's role) off the decision path: `event()` and `role()` return at once, the hook runs later.
 * Each run gets the transition as arguments (`rs-down web 198.51.100.12:80`, `role leader follower edge`)
 * and as one JSON document on stdin, runs in its own process group with a deadline, and is killed with its
 * children when it passes. Failures (exit ≠ 0, not found, killed) are logged with their stderr and counted;
 * none is retried, none holds a decision back.
 */
export class Notifier {
  readonly stats: NotifyStats = { ok: 0, failed: 0, timeout: 0, dropped: 0 };
  readonly #queue: Job[] = [];
  #running = 0;
  readonly #idle: (() => void)[] = [];

  constructor(
    private readonly options: {
      config: () => FleetConfig;
      directorId: string;
      logger: Logger;
      now: () => number;
      metrics?: Pick<DirectorMetrics, "notifyHooks">;
      /** Defaults 8 running, 256 queued. */
      limits?: { running: number; queued: number };
    },
  ) {}

  /** A transition the director announced (only the deciding director announces: one hook run per pair). */
  event(event: { type: string; service: string; rs?: unknown }): void {
    const config = this.options.config();
    const job = hookFor(config, event);
    if (job) this.#enqueue({ ...job, input: this.#document(config, event) });
  }

  /** The director's role changed (leader, follower, isolated, standalone). */
  role(role: DirectorRole, previous: DirectorRole | undefined, pair: string | undefined): void {
    const config = this.options.config();
    // A config built by hand (not through the loader) may lack the notify defaults: no hooks then.
    const command = config.director.notify?.role;
    if (!command) return;
    const event = { type: "role", service: "*", role, previous: previous ?? null, pair: pair ?? null };
    const args = ["role", role, previous ?? "none", ...(pair ? [pair] : [])];
    this.#enqueue({ command, args, input: this.#document(config, event), label: args.join(" ") });
  }

  /** Resolves once no hook runs or waits (tests, shutdown). */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #document(config: FleetConfig, event: object): string {
    const at = this.options.now();
    return `${JSON.stringify({ v: 1, cluster: config.cluster, director: this.options.directorId, at, event })}\n`;
  }

  #enqueue(job: Job): void {
    if (this.#queue.length >= (this.options.limits?.queued ?? MAX_QUEUED)) {
      this.#count("dropped");
      this.options.logger.warn(
        { hook: job.command[0], transition: job.label },
        "notify hook dropped: too many queued",
      );
      return;
    }
    this.#queue.push(job);
    this.#next();
  }

  #next(): void {
    while (this.#running < (this.options.limits?.running ?? MAX_RUNNING) && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#running++;
      void this.#run(job).finally(() => {
        this.#running--;
        this.#next();
        if (this.#running === 0 && this.#queue.length === 0) for (const done of this.#idle.splice(0)) done();
      });
    }
  }

  #count(result: keyof NotifyStats): void {
    this.stats[result]++;
    this.options.metrics?.notifyHooks.inc({ result });
  }

  #run(job: Job): Promise<void> {
    const timeoutMs = this.options.config().director.notify?.timeoutMs ?? 10_000;
    const [file, ...fixed] = job.command;
    const log = { hook: file, transition: job.label };
    const startedAt = performance.now();
    return new Promise((resolve) => {
      let stderr = "";
      let timedOut = false;
      const child = spawn(file!, [...fixed, ...job.args], {
        stdio: ["pipe", "ignore", "pipe"],
        detached: true,
      });
      const group = (signal: NodeJS.Signals) => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, signal);
        } catch {
          // ESRCH: the group is already gone.
        }
      };
      const term = setTimeout(() => {
        timedOut = true;
        group("SIGTERM");
      }, timeoutMs);
      const kill = setTimeout(() => group("SIGKILL"), timeoutMs + KILL_DELAY_MS);
      let finished = false;
      const done = (result: keyof NotifyStats, fields: Record<string, unknown>, message: string) => {
        // A spawn that fails emits "error" and may still emit "close": count it once.
        if (finished) return;
        finished = true;
        clearTimeout(term);
        clearTimeout(kill);
        this.#count(result);
        const line = { ...log, ...fields, durationMs: Math.round(performance.now() - startedAt) };
        if (result === "ok") this.options.logger.info(line, message);
        else this.options.logger.warn({ ...line, detail: stderr.slice(0, STDERR_KEPT_BYTES) }, message);
        resolve();
      };
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (chunk: string) => {
        if (stderr.length < STDERR_KEPT_BYTES) stderr += chunk;
      });
      // A hook that does not read its stdin must not fail the run (EPIPE).
      child.stdin.on("error", () => {});
      child.stdin.end(job.input);
      child.once("error", (error: NodeJS.ErrnoException) =>
        done("failed", { err: error.code ?? error.message }, "notify hook could not run"),
      );
      child.once("close", (code, signal) => {
        if (timedOut) done("timeout", { timeoutMs }, `notify hook killed after ${timeoutMs} ms`);
        else if (code === 0) done("ok", {}, "notify hook ran");
        else done("failed", { exitCode: code, signal }, "notify hook failed");
      });
    });
  }
}
