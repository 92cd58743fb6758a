import { type IpvsDriver, IpvsadmError, renderCommands } from "@lvsq/ipvs";
import type { IpvsTable } from "@lvsq/protocol";
import { type DirectorMetrics, delay, type Logger } from "@lvsq/runtime";
import { type ApplyOutcome, ApplyLoop } from "./apply-loop.js";
import type { DirectorEvent } from "./events.js";
import { type DirectorCounts, ownedDigest } from "./heartbeat.js";

export type KernelTableOptions = {
  driver: IpvsDriver;
  logger: Logger;
  /** The virtual services this director may write (the config's, read again after a reload). */
  owned: () => ReadonlySet<string>;
  /** The agent's counters: applies, applyErrors and driftRepairs are counted here. */
  counts: DirectorCounts;
  emit: (event: DirectorEvent) => void;
  /** The owned part of the kernel table changed after an apply (the agent beats at once). */
  onTableChanged: () => void;
  now: () => number;
  ipvsadm?: string | undefined;
  metrics?: DirectorMetrics | undefined;
  /** `--dry-run`: the driver writes to an in-memory copy, and the log says so. */
  dryRun?: boolean | undefined;
  /** Observer of every table handed to the apply loop, with the epoch it belongs to (tests, bench). */
  onSubmit?: ((table: IpvsTable, epoch: number) => void) | undefined;
};

/**
 * The director's kernel side: desired tables go in through the apply loop (one batch in flight), tagged with
 * the epoch they belong to; apply outcomes become counts, log lines and `apply-error` events; a failed apply
 * or a reconcile re-reads the kernel and repairs drift (`drift-repaired`). It keeps the digest of the owned
 * table, the last apply's time and duration, and the epoch of the last table written without error.
 */
export class KernelTable {
  private readonly loop: ApplyLoop;
  /** Services a reload removed from the config: still written (deleted) until the kernel no longer has them. */
  private readonly retiring = new Set<string>();
  private last: { table: IpvsTable; epoch: number } | undefined;
  private submitted = 0;
  private repairSoon = false;
  private stopped = false;
  digest = "unknown";
  lastApplyAt: number | undefined;
  lastApplyMs: number | undefined;
  /** The epoch of the last table written without error (0 for an unpaired director). */
  appliedEpoch = 0;

  constructor(private readonly options: KernelTableOptions) {
    this.loop = new ApplyLoop(
      options.driver,
      () => this.writable(),
      options.logger,
      (outcome) => this.onApplied(outcome),
    );
  }

  /**
   * A reload removed these services from the config: delete them from the kernel (every real server, then
   * the service), whatever the director's role, and retry until they are gone. They were this director's
   * until now; left in the kernel they would go on taking traffic that nobody checks.
   */
  retire(keys: Iterable<string>): void {
    const owned = this.options.owned();
    for (const key of this.retiring) if (owned.has(key)) this.retiring.delete(key);
    const added: string[] = [];
    for (const key of keys) {
      if (owned.has(key) || this.retiring.has(key)) continue;
      this.retiring.add(key);
      added.push(key);
    }
    if (added.length === 0) return;
    this.options.logger.info(
      { services: added },
      "removed from the config: deleting from the kernel table (no longer owned or checked)",
    );
    // The newest table asked for, or the kernel as last seen: either way without the retired services.
    const again = this.last ?? {
      table: this.loop.lastObserved ?? { services: [] },
      epoch: this.appliedEpoch,
    };
    this.submit(again.table, again.epoch);
  }

  /**
   * The first read, retried rather than given up: a director (re)started while ipvsadm or netlink fails
   * would otherwise exit and crash-loop under systemd. Nothing is written before the table is read (no
   * desired table exists yet), so waiting is fail-static. 1 s, doubling up to 10 s. The agent is not
   * started until it returns, so no stop can come meanwhile; SIGTERM then ends the process as it is.
   */
  async readAtStart(retryMs = 1000): Promise<IpvsTable> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.read();
      } catch (error) {
        const waitMs = Math.min(retryMs * 2 ** (attempt - 1), 10_000);
        this.options.logger.error(
          { err: error, attempt, retryInMs: waitMs },
          "cannot read the kernel table at start: retrying; nothing is written until it is read",
        );
        await delay(waitMs);
      }
    }
  }

  /**
   * Reads the kernel table (at start and after a reload) and records its digest. Virtual services the
   * config does not have are never touched (an operator's, another tool's, or one removed from the config
   * while this director was down: it cannot tell which); it says so, so none goes unchecked unnoticed.
   */
  async read(): Promise<IpvsTable> {
    const table = await this.loop.read();
    const owned = this.options.owned();
    this.digest = ownedDigest(table, owned);
    this.pruneRetired();
    const unowned = table.services
      .map((s) => s.key)
      .filter((key) => !owned.has(key) && !this.retiring.has(key));
    if (unowned.length > 0)
      this.options.logger.warn(
        { services: unowned },
        "kernel services not in the config: left alone, not checked (delete them with ipvsadm -D if stale)",
      );
    return table;
  }

  get lastObserved(): IpvsTable | undefined {
    return this.loop.lastObserved;
  }

  /** Asks for `table` in the kernel; `appliedEpoch` moves once the loop has written it without error. */
  submit(table: IpvsTable, epoch: number): void {
    this.last = { table, epoch };
    const retiring = this.retiring;
    const wanted =
      retiring.size === 0 ? table : { services: table.services.filter((s) => !retiring.has(s.key)) };
    this.options.onSubmit?.(wanted, epoch);
    this.loop.submit(wanted);
    const ticket = ++this.submitted;
    const { counts } = this.options;
    const errors = counts.applyErrors;
    void this.loop.idle().then(() => {
      // The epoch written, not the highest ever: once the desired bucket is made again the pair's epochs
      // start over from the next lease holder's (docs/pairs.md), and a follower then applies lower ones.
      // (Epoch 0 is a table of no term, written at start before the pair has a word.)
      if (ticket === this.submitted && counts.applyErrors === errors && epoch > 0) this.appliedEpoch = epoch;
    });
  }

  /** Re-reads the kernel and repairs any difference from the last desired table, with an event. */
  async reconcile(): Promise<void> {
    if (this.stopped) return;
    this.repairSoon = false;
    const ops = await this.loop.reconcile();
    this.digest = ownedDigest(this.loop.lastObserved, this.options.owned());
    this.pruneRetired();
    if (ops.length > 0) {
      this.options.counts.driftRepairs++;
      this.options.metrics?.driftRepairs.inc();
      this.options.emit({
        type: "drift-repaired",
        service: "*",
        ops: ops.length,
        commands: renderCommands(ops, this.options.ipvsadm).slice(0, 20),
      });
    }
  }

  /** Called every second: after a failed apply, repair within a second rather than at the next reconcile. */
  repairIfDue(): Promise<void> | undefined {
    return this.repairSoon ? this.reconcile() : undefined;
  }

  /** Resolves when no apply is pending or in flight. */
  idle(): Promise<void> {
    return this.loop.idle();
  }

  /** The director is stopping: no more reconciles, no heartbeat after an apply. The kernel table stays as it is. */
  halt(): void {
    this.stopped = true;
  }

  /** What the apply loop may write: the owned services, and the retired ones until they are deleted. */
  private writable(): ReadonlySet<string> {
    const owned = this.options.owned();
    if (this.retiring.size === 0) return owned;
    return new Set([...owned, ...this.retiring]);
  }

  private pruneRetired(): void {
    if (this.retiring.size === 0) return;
    const inKernel = new Set(this.loop.lastObserved?.services.map((s) => s.key));
    for (const key of this.retiring) if (!inKernel.has(key)) this.retiring.delete(key);
  }

  private onApplied(outcome: ApplyOutcome): void {
    const { counts, logger, metrics, now } = this.options;
    this.lastApplyAt = now();
    this.lastApplyMs = outcome.durationMs;
    const previousDigest = this.digest;
    this.digest = ownedDigest(this.loop.lastObserved, this.options.owned());
    metrics?.recordApply(!outcome.error, outcome.durationMs);
    if (!outcome.error) {
      counts.applies++;
      this.pruneRetired();
      logger.info(
        {
          op: "apply",
          ops: outcome.ops.length,
          durationMs: Math.round(outcome.durationMs * 100) / 100,
          drift: outcome.drift,
          ...(this.options.dryRun ? { dryRun: true } : {}),
        },
        this.options.dryRun
          ? "dry-run: applied to the in-memory copy of the table; the kernel table was not changed"
          : "applied to the kernel table",
      );
      // Beat at once when the table changed: otherwise `lvsq status` compares a fresh digest with a partner's
      // up to one heartbeat old and flags a healthy pair as TABLE DIFFERS FROM PAIR after every transition.
      if (this.digest !== previousDigest && !this.stopped) this.options.onTableChanged();
      return;
    }
    counts.applyErrors++;
    this.repairSoon = true;
    const error = outcome.error;
    this.options.emit({
      type: "apply-error",
      service: "*",
      ops: outcome.ops.length,
      message: error.message,
      ...(error instanceof IpvsadmError
        ? { argv: [...error.argv], exitCode: error.exitCode, stderr: error.stderr.slice(0, 512) }
        : {}),
    });
  }
}
