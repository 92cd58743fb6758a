import type { FleetConfig } from "@lvsq/config";
import { serviceKey } from "@lvsq/engine";
import type { DirectorRole, IpvsTable } from "@lvsq/protocol";
import type { DirectorMetrics } from "@lvsq/runtime";

/** Real servers up (in the desired table with weight > 0) and down, per service, into the gauges. */
export function recordRealServers(metrics: DirectorMetrics, config: FleetConfig, desired: IpvsTable): void {
  const byKey = new Map(desired.services.map((s) => [s.key, s]));
  for (const service of Object.values(config.services)) {
    const entry = byKey.get(serviceKey(service));
    const weights = new Map(entry?.realServers.map((rs) => [rs.address, rs.weight]) ?? []);
    const up = service.realServers.filter((rs) => (weights.get(rs.address) ?? 0) > 0).length;
    metrics.setRealServers(service.id, up, service.realServers.length - up);
  }
}

export function recordRole(metrics: DirectorMetrics, role: DirectorRole, epoch: number): void {
  metrics.setRole(role);
  metrics.leaderEpoch.set(epoch);
}
