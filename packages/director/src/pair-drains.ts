import type { Bus, BusSubscription } from "@lvsq/bus";
import { DirectorHeartbeat, subjects } from "@lvsq/protocol";
import type { PartnerDrains } from "./drain-watch.js";

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
