import type { FleetConfig } from "@lvsq/config";
import { type DirectorState, desiredEntry, type EngineInput, serviceReasons } from "@lvsq/engine";
import type { IpvsTable } from "@lvsq/protocol";
import type { PairHost } from "./pair-coordinator.js";
import type { PairEvent } from "./pair-events.js";
import { desiredRecord, pairOf } from "./pair-records.js";

/** The parts of the director agent its pair coordinator drives (closures over the agent's state). */
export type PairHostDeps = {
  directorId: string;
  config(): FleetConfig;
  state(): DirectorState;
  kernel(): IpvsTable | undefined;
  feed(input: EngineInput): void;
  /** Hands a table to the apply loop, tagged with the epoch it belongs to (ignored once stopped). */
  submit(table: IpvsTable, epoch: number): void;
  now(): number;
  emit(event: PairEvent): void;
};

export function createPairHost(deps: PairHostDeps): PairHost {
  return {
    config: deps.config,
    kernel: () => deps.kernel() ?? { services: [] },
    adopt: (table) => deps.feed({ type: "observed", table, now: deps.now() }),
    follow: (table, epoch) => deps.submit(table, epoch),
    lead: (epoch) => deps.submit(deps.state().desired, epoch),
    decision: (service) => desiredEntry(deps.state(), service),
    record: (service, epoch) => {
      const config = deps.config();
      return desiredRecord({
        cluster: config.cluster,
        pair: pairOf(config, deps.directorId) ?? "",
        service,
        epoch,
        leader: deps.directorId,
        at: deps.now(),
        table: desiredEntry(deps.state(), service),
        reasons: serviceReasons(deps.state(), service, deps.now()),
      });
    },
    emit: deps.emit,
  };
}
