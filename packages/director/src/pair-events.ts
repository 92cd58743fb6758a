import type { Logger } from "@lvsq/runtime";

/** Events of a director pair (published on `lvsq.<cluster>.events._director`, like the agent's own). */
export type PairEvent =
  | {
      type: "leader-changed";
      service: "*";
      pair: string;
      /** The new term (the lease revision that took it). */
      epoch: number;
      /** Who decides from now on. */
      leader: string;
      previousLeader: string | null;
      previousEpoch: number | null;
      /** Services whose desired table the new leader's own decision changed at takeover (0 = no flap). */
      changedAtTakeover: number;
    }
  | { type: "lease-lost"; service: "*"; pair: string; epoch: number; reason: string }
  | { type: "isolated"; service: "*"; pair: string; reason: string; epoch: number }
  | { type: "rejoined"; service: "*"; pair: string; leader: string | null; epoch: number };

export function logPairEvent(logger: Logger, event: PairEvent): void {
  const { type, ...fields } = event;
  const line = { event: type, ...fields };
  switch (event.type) {
    case "leader-changed":
      logger.info(
        line,
        `${event.leader} leads pair ${event.pair} at epoch ${event.epoch}` +
          (event.previousLeader ? ` (after ${event.previousLeader}, epoch ${event.previousEpoch})` : ""),
      );
      return;
    case "lease-lost":
      logger.warn(line, `lost the lease of pair ${event.pair} (epoch ${event.epoch}): ${event.reason}`);
      return;
    case "isolated":
      logger.warn(line, `isolated from NATS (${event.reason}): keeping the kernel table as it is`);
      return;
    case "rejoined":
      logger.info(line, `rejoined pair ${event.pair} as follower of ${event.leader ?? "nobody yet"}`);
      return;
  }
}
