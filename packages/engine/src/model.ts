import type { FleetConfig, RealServerConfig, ServiceConfig } from "@lvsq/config";
import {
  type IpvsTable,
  type RealServerEntry,
  type VirtualServiceEntry,
  virtualServiceKey,
} from "@lvsq/protocol";
import { type Counts, createLayout, type QuorumLayout } from "./quorum.js";
import type { AdminCommand, Rule, VoteCounters } from "./types.js";
import { createVoteSlots, type VoteSlots } from "./vote-store.js";

export const HEALTH_DOWN = 0;
export const HEALTH_UP = 1;

/** Last verdict per real server; NONE until it has been evaluated from at least one vote. */
export const VERDICT_NONE = 0;
export const VERDICT_UP = 1;
export const VERDICT_DOWN = 2;
export const VERDICT_FAIL_STATIC = 3;
export const VERDICT_CONFLICT = 4;
/** Neither threshold, but the real server never had a quorum verdict yet (votes still arriving). */
export const VERDICT_PENDING = 5;

export const ADMIN_NONE = 0;
export const ADMIN_DRAIN = 1;
export const ADMIN_DISABLE = 2;

/** Rule codes stored per real server; admin rules are derived from the admin code instead. */
export const RULES = [
  "initial",
  "kernel-adopted",
  "quorum-up",
  "quorum-down",
  "fail-static",
  "quorum-conflict",
  "startup-grace",
  "removal-limited",
] as const satisfies readonly Rule[];
export const ruleCode = (rule: (typeof RULES)[number]): number => RULES.indexOf(rule);

/** Per-service decision state. Per-real-server fields are typed arrays indexed like `config.realServers`. */
export type ServiceState = {
  id: string;
  config: ServiceConfig;
  key: string;
  base: Omit<VirtualServiceEntry, "realServers">;
  baseSignature: string;
  addresses: string[];
  rsIndex: Map<string, number>;
  probeIds: string[];
  probeIndex: Map<string, number>;
  siteNames: string[];
  layout: QuorumLayout;
  votes: VoteSlots;
  counts: Counts;
  weightScratch: number[];
  health: Uint8Array;
  /** Weight while up: the kernel's at adoption, then the configured or dynamic weight of the last rs-up. */
  upWeight: Int32Array;
  verdict: Uint8Array;
  /** 1 once the real server had an up or down verdict: only then is losing quorum reported. */
  decided: Uint8Array;
  rule: Uint8Array;
  /** Weight found in the kernel at adoption, -1 when absent: startup grace keeps these entries. */
  kernelWeight: Int32Array;
  changedAt: Float64Array;
  limitHeld: Uint8Array;
  admin: Uint8Array;
  adminInfo: Map<number, AdminCommand>;
  /** Scratch for rebuilds: effective weight per real server, -1 = out of the table. */
  effective: Int32Array;
  rsEntries: (RealServerEntry | undefined)[];
  fallbackEntries: RealServerEntry[];
  fallbackInKernel: boolean[];
  fallbackActive: boolean;
  /** weightQuorum: undefined until decided once the kernel was read, then whether the quorum is up. */
  weightQuorumUp: boolean | undefined;
  kernelExtras: RealServerEntry[];
  adopted: boolean;
  /** The service was in the kernel at adoption: startup grace keeps its real servers as they were. */
  foundInKernel: boolean;
  noQuorum: number;
  downVerdicts: number;
  unreachableReported: boolean;
  removalMax: number | undefined;
  removals: number[];
  held: Set<number>;
  /** Real servers (index >= 0) and fallback servers (~index) merged in address order. */
  order: Int32Array;
  entry: VirtualServiceEntry | undefined;
  touched: boolean;
  dirty: boolean;
};

/** What a probe's next batch is ordered against (see `admitBatch`). */
export type SeqAnchor = { seq: number; acceptedAt: number };

/**
 * The engine's whole memory. `step` updates it in place and returns it (a reducer over a mutable
 * accumulator, for speed): keep only the latest state, and treat its fields as read-only outside the engine.
 */
export type DirectorState = {
  config: FleetConfig;
  directorId: string | undefined;
  services: Map<string, ServiceState>;
  /** Services in key order: the order of `desired.services`. */
  byKey: ServiceState[];
  probeSites: Map<string, string>;
  /** Per probe: the seq of its last accepted batch, and when (this director's clock) it was accepted. */
  lastSeq: Map<string, SeqAnchor>;
  ownedKeys: ReadonlySet<string>;
  startedAt: number | undefined;
  graceOver: boolean;
  lastNow: number;
  desired: IpvsTable;
  counters: VoteCounters;
  drainDeadlines: number;
  touched: ServiceState[];
};

/** The kernel key of a configured service (`tcp 192.0.2.1:80`, `fwmark 7`). */
export function serviceKey(service: ServiceConfig): string {
  return virtualServiceKey({
    protocol: service.protocol,
    address: service.vip,
    fwmark: service.fwmark,
    family: service.family,
  });
}

/** Keys of the virtual services a config owns: the only ones a director may create, change or delete. */
export function ownedServiceKeys(config: FleetConfig): Set<string> {
  return new Set(Object.values(config.services).map(serviceKey));
}

export function realServerEntry(rs: RealServerConfig, weight: number): RealServerEntry {
  const entry: RealServerEntry = { address: rs.address, forwarding: rs.forwarding, weight };
  if (rs.upperThreshold !== undefined) entry.upperThreshold = rs.upperThreshold;
  if (rs.lowerThreshold !== undefined) entry.lowerThreshold = rs.lowerThreshold;
  return entry;
}

export function compareAddress(a: { address: string }, b: { address: string }): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}

function baseEntry(service: ServiceConfig, key: string): Omit<VirtualServiceEntry, "realServers"> {
  const base: Omit<VirtualServiceEntry, "realServers"> = {
    key,
    protocol: service.protocol,
    family: service.family,
    scheduler: service.scheduler,
  };
  if (service.vip !== undefined) base.address = service.vip;
  if (service.fwmark !== undefined) base.fwmark = service.fwmark;
  if (service.schedFlags !== undefined && service.schedFlags.length > 0) base.schedFlags = service.schedFlags;
  if (service.persistenceMs > 0) {
    base.persistence = { timeoutS: Math.max(1, Math.ceil(service.persistenceMs / 1000)) };
    if (service.persistenceNetmask !== undefined) base.persistence.netmask = service.persistenceNetmask;
  }
  // Rebuild the object in schema order so the JSON of desired and observed tables lines up.
  const ordered = {
    key: base.key,
    protocol: base.protocol,
    address: base.address,
    fwmark: base.fwmark,
    family: base.family,
    scheduler: base.scheduler,
    schedFlags: base.schedFlags,
    persistence: base.persistence,
  };
  for (const field of Object.keys(ordered) as (keyof typeof ordered)[]) {
    if (ordered[field] === undefined) delete ordered[field];
  }
  return ordered;
}

function removalMax(service: ServiceConfig): number | undefined {
  const limit = service.removalLimit;
  if (limit === undefined) return undefined;
  if (typeof limit.max === "number") return limit.max;
  const percent = Number(limit.max.slice(0, -1));
  return Math.max(1, Math.ceil((service.realServers.length * percent) / 100));
}

export function createServiceState(config: FleetConfig, service: ServiceConfig): ServiceState {
  const key = serviceKey(service);
  const base = baseEntry(service, key);
  const probeSite = new Map(config.probes.map((p) => [p.id, p.site]));
  // Probes named by the service but absent from the fleet are rejected by the config; skip them defensively.
  const probeIds = service.probes.filter((id) => probeSite.has(id));
  const { layout, siteNames } = createLayout(
    config.quorum.by,
    probeIds.map((id) => probeSite.get(id)!),
    config.quorum.up,
    config.quorum.down,
  );
  const count = service.realServers.length;
  const addresses = service.realServers.map((rs) => rs.address);
  const merged = [
    ...addresses.map((address, index) => ({ address, index })),
    ...service.fallback.map((fb, index) => ({ address: fb.address, index: ~index })),
  ].sort(compareAddress);
  return {
    id: service.id,
    config: service,
    key,
    base,
    baseSignature: JSON.stringify(base),
    addresses,
    rsIndex: new Map(addresses.map((address, i) => [address, i])),
    probeIds,
    probeIndex: new Map(probeIds.map((id, p) => [id, p])),
    siteNames,
    layout,
    votes: createVoteSlots(count, probeIds.length),
    counts: { up: 0, down: 0 },
    weightScratch: [],
    health: new Uint8Array(count).fill(HEALTH_DOWN),
    upWeight: Int32Array.from(service.realServers, (rs) => rs.weight),
    verdict: new Uint8Array(count).fill(VERDICT_NONE),
    decided: new Uint8Array(count),
    rule: new Uint8Array(count).fill(ruleCode("initial")),
    kernelWeight: new Int32Array(count).fill(-1),
    changedAt: new Float64Array(count).fill(Number.NaN),
    limitHeld: new Uint8Array(count),
    admin: new Uint8Array(count).fill(ADMIN_NONE),
    adminInfo: new Map(),
    effective: new Int32Array(count),
    rsEntries: new Array(count).fill(undefined),
    fallbackEntries: service.fallback.map((fb) => realServerEntry(fb, fb.weight)),
    fallbackInKernel: service.fallback.map(() => false),
    fallbackActive: false,
    weightQuorumUp: undefined,
    kernelExtras: [],
    adopted: false,
    foundInKernel: false,
    noQuorum: 0,
    downVerdicts: 0,
    unreachableReported: false,
    removalMax: removalMax(service),
    removals: [],
    held: new Set(),
    order: Int32Array.from(merged, (m) => m.index),
    entry: undefined,
    touched: false,
    dirty: true,
  };
}

export function emptyCounters(): VoteCounters {
  return {
    batches: 0,
    votes: 0,
    dropped: {
      "wrong-cluster": 0,
      "unknown-probe": 0,
      "site-mismatch": 0,
      "replayed-seq": 0,
      "unknown-service": 0,
      "probe-not-assigned": 0,
      "unknown-real-server": 0,
    },
    adminRejected: 0,
    seqResets: 0,
  };
}
