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
export class DrainWatch {
  private readonly drained = new Map<string, { service: string; rs: string }>();

  constructor(
    private readonly driver: IpvsDriver,
    private readonly logger: Logger,
  ) {}

  /** Tracks every admin command the director applies. */
  note(command: AdminCommand): void {
    const key = `${command.service}|${command.rs}`;
    if (command.action === "drain") this.drained.set(key, { service: command.service, rs: command.rs });
    else this.drained.delete(key);
  }

  /** Disables drained servers that are at weight 0 in the kernel and have no connections left. */
  async check(
    config: FleetConfig,
    kernel: IpvsTable | undefined,
    disable: (command: AdminCommand) => void,
  ): Promise<void> {
    if (this.drained.size === 0 || !this.driver.connections || !kernel) return;
    const counts = await this.driver.connections();
    for (const [key, { service, rs }] of this.drained) {
      const svc = config.services[service];
      if (!svc) continue;
      const vsKey = serviceKey(svc);
      const inKernel = kernel.services
        .find((s) => s.key === vsKey)
        ?.realServers.find((r) => r.address === rs);
      if (inKernel?.weight !== 0) continue;
      const connections = counts.get(vsKey)?.get(rs);
      if (connections !== 0) continue;
      this.drained.delete(key);
      this.logger.info({ service, rs }, "drain finished: no connections left, taking the real server out");
      disable({ service, rs, action: "disable", author: "lvsq", reason: "drained: no connections left" });
    }
  }
}
