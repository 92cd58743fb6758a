import type { FleetConfig } from "@lvsq/config";
import { type AdminCommand, serviceKey } from "@lvsq/engine";
import type { IpvsDriver } from "@lvsq/ipvs";
import type { IpvsTable } from "@lvsq/protocol";
import type { Logger } from "@lvsq/runtime";

/**
 * Finishes a drain when the kernel says the drained real server has no connections left (active +
 * inactive = 0, read once it is at weight 0 in the kernel), by disabling it. Only for a director that is
 * the only one serving its table: in a pair the VRRP-active node carries the connections, not necessarily
 * the lvsq leader, so paired directors rely on the drain's --deadline instead (docs/status.md).
 */
export async function finishDrains(
  driver: IpvsDriver,
  config: FleetConfig,
  draining: readonly { service: string; rs: string }[],
  kernel: IpvsTable | undefined,
  logger: Logger,
  disable: (command: AdminCommand) => void,
): Promise<void> {
  if (draining.length === 0 || !driver.connections || !kernel) return;
  const counts = await driver.connections();
  for (const { service, rs } of draining) {
    const svc = config.services[service];
    if (!svc) continue;
    const vsKey = serviceKey(svc);
    const inKernel = kernel.services.find((s) => s.key === vsKey)?.realServers.find((r) => r.address === rs);
    if (inKernel?.weight !== 0) continue;
    if (counts.get(vsKey)?.get(rs) !== 0) continue;
    logger.info({ service, rs }, "drain finished: no connections left, taking the real server out");
    disable({ service, rs, action: "disable", author: "lvsq", reason: "drained: no connections left" });
  }
}
