import type { Bus, BusSubscription } from "@lvsq/bus";
import type { FleetConfig } from "@lvsq/config";
import type { AdminCommand } from "@lvsq/engine";
import type { IpvsDriver } from "@lvsq/ipvs";
import { DirectorHeartbeat, type IpvsTable, subjects } from "@lvsq/protocol";
import type { Logger } from "@lvsq/runtime";
import { type DrainCount, drainCounts, drainVerdicts, type PartnerDrains } from "./drain-watch.js";

/**
 * The drain side of a pair member's heartbeats: what each partner last said about the connections its
 * kernel still holds for draining real servers, and when. The leader ends a drain from these (drain-watch.ts).
 */
export class PairDrainReports {
  private readonly latest = new Map<string, PartnerDrains>();
  private readonly subscriptions: BusSubscription[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly cluster: string,
    readonly partners: readonly string[],
    private readonly now: () => number,
  ) {}

  start(): void {
    for (const director of this.partners) {
      this.subscriptions.push(
        this.bus.subscribe(
          subjects.directorStatus(this.cluster, director),
          DirectorHeartbeat,
          (heartbeat) => {
            this.latest.set(director, { director, drains: heartbeat.drains, receivedAt: this.now() });
          },
        ),
      );
    }
  }

  get reports(): ReadonlyMap<string, PartnerDrains> {
    return this.latest;
  }

  stop(): void {
    for (const sub of this.subscriptions.splice(0)) sub.unsubscribe();
  }
}

/**
 * One director's drain rounds: reads its own kernel's connections for every draining real server (its
 * heartbeat reports them), and, when this director decides, ends the drains that are over (drain-watch.ts),
 * logging why a drain goes on whenever that changes.
 */
export class DrainRounds {
  /** This director's kernel connections for each draining real server (heartbeats carry them). */
  counts: DrainCount[] = [];
  private readonly waits = new Map<string, string>();

  constructor(
    private readonly options: {
      driver: IpvsDriver;
      logger: Logger;
      reports: PairDrainReports | undefined;
      staleMs: number;
    },
  ) {}

  async round(input: {
    config: FleetConfig;
    draining: readonly { service: string; rs: string }[];
    kernel: IpvsTable | undefined;
    decides: boolean;
    now: number;
    disable: (command: AdminCommand) => void;
  }): Promise<void> {
    const { driver, logger, reports, staleMs } = this.options;
    this.counts = await drainCounts(driver, input.config, input.draining, input.kernel);
    if (!input.decides) return;
    const verdicts = drainVerdicts(
      this.counts,
      reports?.partners ?? [],
      reports?.reports ?? new Map(),
      input.now,
      staleMs,
    );
    const waiting = new Set<string>();
    for (const { service, rs, done, why } of verdicts) {
      const key = `${service} ${rs}`;
      if (done) {
        logger.info({ service, rs }, `drain finished (${why}): taking the real server out`);
        input.disable({ service, rs, action: "disable", author: "lvsq", reason: why });
        continue;
      }
      waiting.add(key);
      if (this.waits.get(key) !== why) logger.info({ service, rs, why }, `drain continues: ${why}`);
      this.waits.set(key, why);
    }
    for (const key of this.waits.keys()) if (!waiting.has(key)) this.waits.delete(key);
  }
}
