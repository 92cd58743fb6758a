import { parseEndpoint } from "@lvsq/protocol";
import type { FleetConfig, ForwardingSettings, ServiceConfig } from "./fleet-config.js";

/**
 * One real server reached through the VIP: connections from `source` to `vip:port` whose source port is in
 * `firstPort..lastPort` carry `fwmark`, and a hidden fwmark service sends them to this real server only.
 */
export type ForwardingPin = {
  service: string;
  /** The real server as the kernel and the votes name it. */
  rs: string;
  /** The address the probe's checks are given for this server (its check address). */
  checkAddress: string;
  forwarding: "dr" | "tunnel";
  vip: string;
  port: number;
  fwmark: number;
  firstPort: number;
  lastPort: number;
};

/** A real server this probe cannot check through the path, and why (its checks abstain with it). */
export type UnpinnedServer = { service: string; checkAddress: string; reason: string };

export type ForwardingPlan = { pins: ForwardingPin[]; unpinned: UnpinnedServer[] };

/** Check types that are one TCP connection the probe can bind to a source address and port. */
const BINDABLE_CHECKS = new Set(["tcp", "http", "https"]);

/**
 * Where each real server of `probeId`'s services is pinned: a pure function of the config, so the config
 * loader validates exactly what the probe installs. Services in id order, servers in config order;
 * fwmarks are given out one after another from `firstFwmark`, source-port blocks per (VIP, port) so two
 * services on one VIP and port never share a block.
 */
export function planForwardingPins(
  config: Pick<FleetConfig, "services">,
  probeId: string,
  settings: ForwardingSettings,
): ForwardingPlan {
  const pins: ForwardingPin[] = [];
  const unpinned: UnpinnedServer[] = [];
  const blocksUsed = new Map<string, number>();
  const ids = Object.keys(config.services).sort();
  for (const id of ids) {
    const service = config.services[id]!;
    if (!service.probes.includes(probeId)) continue;
    const refusal = serviceRefusal(service);
    const parsed = service.vip === undefined ? undefined : parseEndpoint(service.vip);
    const vip = parsed === undefined || "error" in parsed ? undefined : parsed;
    const port = service.check.port ?? vip?.port ?? 0;
    for (const rs of service.realServers) {
      const checkAddress = rs.checkAddress ?? rs.address;
      const reason =
        refusal ??
        (rs.forwarding === "nat"
          ? "a nat real server is not checked through the path (for dr and tunnel servers only)"
          : undefined) ??
        (port === 0 ? "the VIP has no port and the check none (set check.port)" : undefined);
      if (reason !== undefined || vip === undefined) {
        unpinned.push({ service: id, checkAddress, reason: reason ?? "no VIP" });
        continue;
      }
      const group = `${vip.host} ${port}`;
      const block = blocksUsed.get(group) ?? 0;
      blocksUsed.set(group, block + 1);
      const firstPort = settings.firstPort + block * settings.portsPerServer;
      pins.push({
        service: id,
        rs: rs.address,
        checkAddress,
        forwarding: rs.forwarding as "dr" | "tunnel",
        vip: vip.host,
        port,
        fwmark: settings.firstFwmark + pins.length,
        firstPort,
        lastPort: firstPort + settings.portsPerServer - 1,
      });
    }
  }
  return { pins, unpinned };
}

function serviceRefusal(service: ServiceConfig): string | undefined {
  if (service.vip === undefined) return "a fwmark service has no VIP to connect to";
  if (service.family !== "inet") return "checks through the path are IPv4 only";
  if (service.protocol !== "tcp") return `a ${service.protocol} service is not checked through the path`;
  if (!BINDABLE_CHECKS.has(service.check.type)) {
    return `a ${service.check.type} check cannot be sent through the path (tcp, http and https can)`;
  }
  return undefined;
}

/** A source port is busy in TIME_WAIT for 60 s after the check closes it (Linux's TCP_TIMEWAIT_LEN). */
export const TIME_WAIT_MS = 60_000;
