import type { Bus, Kv, KvChange, KvWatcher } from "@lvsq/bus";
import { type AdminCommand, adminCommandOf } from "@lvsq/engine";
import { AdminRecord, buckets } from "@lvsq/protocol";
import type { Logger } from "@lvsq/runtime";

export type AdminWatchOptions = {
  bus: Bus;
  cluster: string;
  apply: (command: AdminCommand) => void;
  logger: Logger;
  /** Monotonic clock (ms) for how old the last full read is. */
  clock: () => number;
  /** Full re-read period; "manual" = the caller runs `refresh()` (simulations). Default 5 s. */
  refreshMs?: number | "manual";
  /** Past this age of the last full read the view is not current. Default 3 × refreshMs (15 s). */
  staleMs?: number;
  /** The view became current (the first full read, or one after a stale spell). */
  onCurrent?: () => void;
  /**
   * Paired directors stop leading when the view goes stale; an unpaired one keeps deciding on its last
   * full view (only the warning differs).
   */
  paired?: boolean;
};

const DEFAULT_REFRESH_MS = 5_000;

/**
 * Feeds operators' overrides (`lvsq admin drain|disable|enable`, KV `lvsq_<cluster>_admin`) to the engine,
 * and says whether this director's view of them is complete and current: a director decides only then
 * (an engine without the overrides would let up votes bring a disabled server back). The view is a full
 * read of the bucket (every key, at the revision the watch also orders by), kept up to date by a watch and
 * by a full re-read every `refreshMs`, since a watch can die without a word. It is current while the last
 * full read succeeded less than `staleMs` ago. A deleted record counts as `enable`.
 */
export class AdminWatch {
  private kv: Kv | undefined;
  private watcher: KvWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastFullReadAt = Number.NEGATIVE_INFINITY;
  private wasCurrent = false;
  private readInFull = false;
  private buffered: KvChange[] | undefined;
  /** The last revision applied per key, and the real server each key names. */
  private readonly applied = new Map<string, { revision: number; service: string; rs: string }>();
  private reading: Promise<boolean> | undefined;
  private createdAt: number | undefined;

  constructor(private readonly options: AdminWatchOptions) {}

  /** The first full read (awaited); then the re-reads on their timer, which also retry a failed first read. */
  async start(): Promise<void> {
    await this.refresh();
    this.schedule();
  }

  /** Complete (read in full at least once) and current (the last full read is younger than `staleMs`). */
  current(): boolean {
    const refreshMs = this.refreshMs();
    const staleMs = this.options.staleMs ?? 3 * refreshMs;
    return this.options.clock() - this.lastFullReadAt <= staleMs;
  }

  /** Read in full at least once: the view may be old, but it is whole. */
  complete(): boolean {
    return this.readInFull;
  }

  /** One full read of the bucket, applying what the view lacks; true when it worked. */
  refresh(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return this.reading;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.stop();
  }

  private refreshMs(): number {
    const { refreshMs } = this.options;
    return refreshMs === undefined || refreshMs === "manual" ? DEFAULT_REFRESH_MS : refreshMs;
  }

  private schedule(): void {
    if (this.stopped || this.options.refreshMs === "manual") return;
    this.timer = setTimeout(() => void this.refresh().finally(() => this.schedule()), this.refreshMs());
    this.timer.unref();
  }

  private async read(): Promise<boolean> {
    const { bus, cluster, logger } = this.options;
    try {
      this.kv ??= await bus.kv(buckets.admin(cluster));
      const kv = this.kv;
      if (!this.watcher) {
        // Watch first (changes buffered), then read: nothing written in between is missed.
        this.buffered = [];
        this.watcher = await kv.watch(undefined, (change) => this.onChange(change), { updatesOnly: true });
      }
      const status = await kv.status();
      if (this.createdAt !== undefined && status.createdAt !== this.createdAt) {
        // The bucket was recreated: its revisions started again, so none of ours orders anything now.
        for (const known of this.applied.values()) known.revision = 0;
      }
      this.createdAt = status.createdAt;
      const keys = await kv.keys();
      const entries = await Promise.all(keys.map((key) => kv.get(key, { fromLeader: true })));
      const found = new Set<string>();
      for (const entry of entries) {
        if (!entry) continue;
        found.add(entry.key);
        this.take({ key: entry.key, revision: entry.revision, operation: "PUT", value: entry.value });
      }
      for (const key of [...this.applied.keys()]) {
        const changedSince = this.buffered?.some((change) => change.key === key);
        if (!found.has(key) && !changedSince) this.removed(key, "admin record deleted");
      }
      const buffered = this.buffered ?? [];
      this.buffered = undefined;
      for (const change of buffered) this.onChange(change);
      this.lastFullReadAt = this.options.clock();
      this.readInFull = true;
      if (!this.wasCurrent) {
        this.wasCurrent = true;
        logger.info({ records: this.applied.size }, "read the admin overrides in full");
        this.options.onCurrent?.();
      }
      return true;
    } catch (error) {
      if (this.wasCurrent && !this.current()) {
        this.wasCurrent = false;
        logger.warn(
          { err: error instanceof Error ? error.message : error },
          this.options.paired
            ? "cannot read the admin overrides: not leading until they are read again"
            : "cannot read the admin overrides: deciding on the last ones read until they can be read again",
        );
      } else
        logger.debug(
          { err: error instanceof Error ? error.message : error },
          "admin bucket not readable; retrying",
        );
      return false;
    }
  }

  private onChange(change: KvChange): void {
    if (this.buffered) {
      this.buffered.push(change);
      return;
    }
    if (change.operation === "PUT") this.take(change);
    else if ((this.applied.get(change.key)?.revision ?? 0) < change.revision)
      this.removed(change.key, "admin record deleted");
  }

  private take(change: KvChange): void {
    if ((this.applied.get(change.key)?.revision ?? 0) >= change.revision) return;
    const parsed = AdminRecord.safeParse(change.value);
    if (!parsed.success) {
      this.options.logger.warn(
        { key: change.key, issues: parsed.error.issues.slice(0, 3) },
        "ignoring an invalid admin record",
      );
      return;
    }
    const record = parsed.data;
    this.applied.set(change.key, { revision: change.revision, service: record.service, rs: record.rs });
    this.options.apply(adminCommandOf(record));
  }

  private removed(key: string, reason: string): void {
    const known = this.applied.get(key);
    this.applied.delete(key);
    if (known) this.options.apply({ service: known.service, rs: known.rs, action: "enable", reason });
  }
}
