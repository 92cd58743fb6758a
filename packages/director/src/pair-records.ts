import type { FleetConfig } from "@lvsq/config";
import { serviceKey } from "@lvsq/engine";
import { DesiredRecord, type IpvsTable, sortTable, type VirtualServiceEntry } from "@lvsq/protocol";

/** Why a desired record was not taken. */
export type RecordRejection = "invalid" | "other-pair" | "older-epoch" | "unknown-service" | "seen";

/**
 * What a director of a pair knows of its leader's decisions: the newest record per service, and the
 * highest epoch it has seen anywhere (records or the lease). Pure: the coordinator feeds it and asks it
 * for the table to apply. Invariant: a record whose epoch is older than `maxEpoch` is never taken, so a
 * follower's applied epochs only grow, whatever order the bus delivers old and new leaders' writes in.
 */
export class LeaderRecords {
  private readonly records = new Map<string, DesiredRecord>();
  private readonly revisions = new Map<string, number>();
  private epochSeen = 0;
  /** The highest epoch ever seen, never lowered (not even by a restart): the floor of this director's terms. */
  private epochEver = 0;

  constructor(
    private readonly cluster: string,
    private readonly pair: string,
  ) {}

  get maxEpoch(): number {
    return this.epochSeen;
  }

  /** One above every epoch this director has ever seen: the lowest epoch a term it takes may have. */
  get nextTermFloor(): number {
    return Math.max(this.epochEver, this.epochSeen) + 1;
  }

  /** The highest epoch among the records held (what a follower applying them has applied). */
  get recordsEpoch(): number {
    let max = 0;
    for (const record of this.records.values()) max = Math.max(max, record.epoch);
    return max;
  }

  get size(): number {
    return this.records.size;
  }

  record(service: string): DesiredRecord | undefined {
    return this.records.get(service);
  }

  /** A newer term exists (read from the lease): records of older terms are refused from now on. */
  noteEpoch(epoch: number): void {
    if (epoch > this.epochSeen) this.epochSeen = epoch;
  }

  /**
   * The lease bucket reached this revision: a term's epoch may be that high even where this director never
   * learned of the term (a taking write whose reply was lost), so the next term it takes starts above it.
   */
  noteLeaseRevision(revision: number): void {
    this.epochEver = Math.max(this.epochEver, revision);
  }

  /**
   * A bucket's sequence restarted: the records held belong to an older view (the kernel keeps their
   * tables), and the newest epoch is what the lease says now (`epoch`, 0 if nobody holds it). Their
   * revisions go with them, whichever bucket restarted: a revision kept without its record would refuse
   * that very record as "seen" on the re-read, and a quiet leader never writes it again.
   */
  restart(epoch: number): void {
    this.epochEver = Math.max(this.epochEver, this.epochSeen);
    this.records.clear();
    this.revisions.clear();
    this.epochSeen = epoch;
  }

  /** Takes a record (raw from the KV, with its revision): returns it, or why it was refused. */
  accept(value: unknown, revision: number, config: FleetConfig): DesiredRecord | RecordRejection {
    const parsed = DesiredRecord.safeParse(value);
    if (!parsed.success) return "invalid";
    const record = parsed.data;
    if (record.cluster !== this.cluster || record.pair !== this.pair) return "other-pair";
    if (config.services[record.service] === undefined) return "unknown-service";
    if (record.epoch < this.epochSeen) return "older-epoch";
    const held = this.records.get(record.service);
    if (held && held.epoch > record.epoch) return "older-epoch";
    // Same term: the KV revision orders a watcher's delivery and a resync's read of the same key.
    const lastRevision = this.revisions.get(record.service) ?? 0;
    if ((!held || held.epoch === record.epoch) && lastRevision >= revision) return "seen";
    this.epochSeen = record.epoch;
    this.records.set(record.service, record);
    this.revisions.set(record.service, revision);
    return record;
  }

  /** How many of `services` a decision would change from the records held (a new leader's flap count). */
  differing(services: string[], decision: (service: string) => VirtualServiceEntry | undefined): number {
    return services.filter((service) => !sameEntry(decision(service), this.records.get(service)?.table))
      .length;
  }

  /**
   * The table a follower wants: the kernel's table with every owned service the leader has a record for
   * replaced by the record's entry (or removed for `table: null`). Services without a record stay exactly
   * as the kernel has them: without a leader's word nothing changes.
   */
  compose(kernel: IpvsTable, config: FleetConfig): IpvsTable {
    return overlayRecords(kernel, config, (service) => this.records.get(service));
  }
}

/** Overlays per-service records on a table, by the config's service keys (see LeaderRecords.compose). */
export function overlayRecords(
  kernel: IpvsTable,
  config: FleetConfig,
  recordOf: (service: string) => Pick<DesiredRecord, "table"> | undefined,
): IpvsTable {
  const replaced = new Map<string, VirtualServiceEntry | null>();
  for (const [id, service] of Object.entries(config.services)) {
    const record = recordOf(id);
    if (record === undefined) continue;
    replaced.set(serviceKey(service), record.table);
    if (record.table) replaced.set(record.table.key, record.table);
  }
  const services: VirtualServiceEntry[] = kernel.services.filter((s) => !replaced.has(s.key));
  const added = new Set<string>();
  for (const entry of replaced.values()) {
    if (entry && !added.has(entry.key)) {
      added.add(entry.key);
      services.push(entry);
    }
  }
  return { services };
}

/** A leader's record for one service. */
export function desiredRecord(input: {
  cluster: string;
  pair: string;
  service: string;
  epoch: number;
  leader: string;
  at: number;
  table: VirtualServiceEntry | undefined;
  reasons: { rs: string; rule: string }[];
}): DesiredRecord {
  return {
    v: 1,
    cluster: input.cluster,
    pair: input.pair,
    service: input.service,
    epoch: input.epoch,
    leader: input.leader,
    at: input.at,
    table: input.table ?? null,
    reasons: input.reasons,
  };
}

/** The pair of a director, if it really has a partner (a pair of one behaves like an unpaired director). */
export function pairOf(config: FleetConfig, directorId: string): string | undefined {
  const pair = config.directors.find((d) => d.id === directorId)?.pair;
  if (pair === undefined) return undefined;
  const members = config.directors.filter((d) => d.pair === pair);
  return members.length >= 2 ? pair : undefined;
}

function sameEntry(a: VirtualServiceEntry | undefined | null, b: VirtualServiceEntry | undefined | null) {
  if (!a || !b) return !a && !b;
  return JSON.stringify(sortTable({ services: [a] })) === JSON.stringify(sortTable({ services: [b] }));
}
