import type { DirectorRole } from "@lvsq/protocol";
import type { DirectorMetrics } from "@lvsq/runtime";

export function recordRealServers(
  metrics: DirectorMetrics,
  counts: Map<string, { up: number; down: number }>,
): void {
  for (const [service, { up, down }] of counts) metrics.setRealServers(service, up, down);
}

export function recordRole(metrics: DirectorMetrics, role: DirectorRole, epoch: number): void {
  metrics.setRole(role);
  metrics.leaderEpoch.set(epoch);
}
