import type { FleetConfig } from "@lvsq/config";
import {
  type DirectorState,
  desiredEntry,
  type EngineInput,
  serviceReasons,
  type Verdict,
  verdictsSince,
} from "@lvsq/engine";
import type { DesiredRecord, IpvsTable, VirtualServiceEntry } from "@lvsq/protocol";
import type { PairEvent } from "./pair-events.js";
import { desiredRecord, pairOf } from "./pair-records.js";

/** What the coordinator needs from the director agent that hosts it. */
export interface PairHost {
  config(): FleetConfig;
  /** The kernel table as last read or written. */
  kernel(): IpvsTable;
  /** Once, before anything is applied: the recovered table (kernel + last desired records) is current. */
  adopt(table: IpvsTable): void;
  /** Follower: put the leader's table in the kernel. */
  follow(table: IpvsTable, epoch: number): void;
  /** New leader: put this director's own desired table in the kernel. */
  lead(epoch: number): void;
  /** This director's own decision for a service (engine desired entry), undefined if not configured. */
  decision(service: string): VirtualServiceEntry | undefined;
  /** Per real server this director has up (no admin override): the verdict of its votes since `since`. */
  evidenceSince(service: string, since: number): ReadonlyMap<string, Verdict>;
  /** The record this director, as leader at `epoch`, would write for a service now. */
  record(service: string, epoch: number): DesiredRecord;
  emit(event: PairEvent): void;
  /** This director's clock as its engine reads it (the votes' receipt times). */
  now(): number;
  /** A complete, current view of the admin overrides: without it this director may not lead. */
  overridesCurrent(): boolean;
}

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
  overridesCurrent(): boolean;
};

export function createPairHost(deps: PairHostDeps): PairHost {
  return {
    config: deps.config,
    kernel: () => deps.kernel() ?? { services: [] },
    adopt: (table) => deps.feed({ type: "observed", table, now: deps.now() }),
    follow: (table, epoch) => deps.submit(table, epoch),
    lead: (epoch) => deps.submit(deps.state().desired, epoch),
    decision: (service) => desiredEntry(deps.state(), service),
    evidenceSince: (service, since) => verdictsSince(deps.state(), service, since, deps.now()),
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
    now: deps.now,
    overridesCurrent: deps.overridesCurrent,
  };
}
