import type { FleetConfig } from "@lvsq/config";
import { serviceKey } from "@lvsq/engine";
import {
  type DirectorHeartbeat,
  type DirectorRole,
  type IpvsTable,
  LVSQ_VERSION,
  tableDigest,
} from "@lvsq/protocol";

export type DirectorCounts = DirectorHeartbeat["counts"];

export function emptyCounts(): DirectorCounts {
  return {
    votesAccepted: 0,
    votesDropped: 0,
    applies: 0,
    applyErrors: 0,
    driftRepairs: 0,
    realServersUp: 0,
    realServersDown: 0,
  };
}

/**
 * Per service, the config's real servers that are in the desired table with weight > 0 (up) or not (down):
 * one pass feeds both the heartbeat's totals and the per-service metrics.
 */
export function realServerCounts(
  config: FleetConfig,
  desired: IpvsTable,
): Map<string, { up: number; down: number }> {
  const byKey = new Map(desired.services.map((s) => [s.key, s]));
  const counts = new Map<string, { up: number; down: number }>();
  for (const service of Object.values(config.services)) {
    const entry = byKey.get(serviceKey(service));
    const weights = new Map(entry?.realServers.map((rs) => [rs.address, rs.weight]) ?? []);
    const up = service.realServers.filter((rs) => (weights.get(rs.address) ?? 0) > 0).length;
    counts.set(service.id, { up, down: service.realServers.length - up });
  }
  return counts;
}

/** Digest of the owned part of a kernel table: equal digests = identical tables across a pair. */
export function ownedDigest(table: IpvsTable | undefined, owned: ReadonlySet<string>): string {
  if (!table) return "unknown";
  return tableDigest({ services: table.services.filter((s) => owned.has(s.key)) });
}

export function buildHeartbeat(input: {
  config: FleetConfig;
  director: string;
  pair: string | undefined;
  role: DirectorRole;
  startedAt: number;
  now: number;
  epoch: number;
  appliedEpoch: number;
  digest: string;
  lastApplyAt: number | undefined;
  lastApplyMs: number | undefined;
  counts: DirectorCounts;
}): DirectorHeartbeat {
  return {
    v: 1,
    type: "director",
    cluster: input.config.cluster,
    director: input.director,
    ...(input.pair ? { pair: input.pair } : {}),
    role: input.role,
    version: LVSQ_VERSION,
    sentAt: input.now,
    uptimeMs: input.now - input.startedAt,
    epoch: input.epoch,
    appliedEpoch: input.appliedEpoch,
    tableDigest: input.digest,
    ...(input.lastApplyAt !== undefined ? { lastApplyAt: input.lastApplyAt } : {}),
    ...(input.lastApplyMs !== undefined ? { lastApplyMs: Math.round(input.lastApplyMs * 100) / 100 } : {}),
    counts: input.counts,
  };
}
