import type { FleetConfig } from "@lvsq/config";
import { serviceKey } from "@lvsq/engine";
import type { Bus } from "@lvsq/bus";
import {
  type DirectorHeartbeat,
  type DirectorRole,
  type IpvsTable,
  LVSQ_VERSION,
  subjects,
  tableDigest,
} from "@lvsq/protocol";
import type { DirectorMetrics } from "@lvsq/runtime";
import type { DrainCount } from "./drain-watch.js";
import { recordRealServers, recordRole } from "./metrics.js";
import { busDrops } from "./publish.js";

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
  drains?: readonly DrainCount[] | undefined;
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
    ...(input.drains && input.drains.length > 0 ? { drains: [...input.drains] } : {}),
  };
}

/**
 * Publishes one heartbeat on `lvsq.<cluster>.status.director.<id>`: recounts the real servers in and out of
 * the desired table (into `counts`, and the metrics when `--metrics` is on) and reports the kernel side.
 */
export function publishHeartbeat(
  bus: Bus,
  input: {
    config: FleetConfig;
    director: string;
    role: DirectorRole;
    startedAt: number;
    now: number;
    epoch: number;
    kernel: {
      appliedEpoch: number;
      digest: string;
      lastApplyAt: number | undefined;
      lastApplyMs: number | undefined;
    };
    desired: IpvsTable;
    counts: DirectorCounts;
    metrics: DirectorMetrics | undefined;
    drains?: readonly DrainCount[];
  },
): void {
  const { config, counts, kernel, metrics } = input;
  const perService = realServerCounts(config, input.desired);
  counts.realServersUp = 0;
  counts.realServersDown = 0;
  for (const { up, down } of perService.values()) {
    counts.realServersUp += up;
    counts.realServersDown += down;
  }
  if (metrics) {
    recordRealServers(metrics, perService);
    recordRole(metrics, input.role, input.epoch);
  }
  const heartbeat = buildHeartbeat({
    config,
    director: input.director,
    pair: config.directors.find((d) => d.id === input.director)?.pair,
    role: input.role,
    startedAt: input.startedAt,
    now: input.now,
    epoch: input.epoch,
    appliedEpoch: kernel.appliedEpoch,
    digest: kernel.digest,
    lastApplyAt: kernel.lastApplyAt,
    lastApplyMs: kernel.lastApplyMs,
    counts: { ...counts, messagesDropped: busDrops(bus) },
    drains: input.drains,
  });
  bus.publish(subjects.directorStatus(config.cluster, input.director), heartbeat);
}
