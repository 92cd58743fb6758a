import type { Bus, KvWatcher } from "@lvsq/bus";
import type { AdminCommand } from "@lvsq/engine";
import { AdminRecord, buckets } from "@lvsq/protocol";
import type { Logger } from "@lvsq/runtime";

/**
 * Feeds operators' overrides (`lvsq admin drain|disable|enable`, KV `lvsq_<cluster>_admin`) to the engine.
 * The watch delivers every current record first, so overrides survive a director restart; later changes
 * arrive in order. While NATS is unreachable it retries, so a director started during an outage picks the
 * overrides up once it connects. A deleted record counts as `enable`.
 */
export class AdminWatch {
  private watcher: KvWatcher | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly byKey = new Map<string, { service: string; rs: string }>();

  constructor(
    private readonly bus: Bus,
    private readonly cluster: string,
    private readonly apply: (command: AdminCommand) => void,
    private readonly logger: Logger,
    private readonly retryMs = 5000,
  ) {}

  async start(): Promise<void> {
    if (this.stopped) return;
    try {
      const kv = await this.bus.kv(buckets.admin(this.cluster));
      this.watcher = await kv.watch(undefined, (change) => {
        if (change.operation !== "PUT") {
          const known = this.byKey.get(change.key);
          if (known) this.apply({ ...known, action: "enable", reason: "admin record deleted" });
          return;
        }
        const parsed = AdminRecord.safeParse(change.value);
        if (!parsed.success) {
          this.logger.warn(
            { key: change.key, issues: parsed.error.issues.slice(0, 3) },
            "ignoring an invalid admin record",
          );
          return;
        }
        const record = parsed.data;
        this.byKey.set(change.key, { service: record.service, rs: record.rs });
        this.apply({
          service: record.service,
          rs: record.rs,
          action: record.action,
          author: record.author,
          reason: record.reason,
          ...(record.deadline !== undefined ? { deadline: record.deadline } : {}),
        });
      });
    } catch (error) {
      this.logger.debug(
        { err: error instanceof Error ? error.message : error },
        "admin bucket not reachable yet; retrying",
      );
      this.retry = setTimeout(() => void this.start(), this.retryMs);
      this.retry.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.watcher?.stop();
  }
}
