import { parseEndpoint } from "@lvsq/protocol";
import type { ConfigProblem } from "./fleet-config.js";
import type { FleetConfigParsed } from "./schema.js";

type RealServerParsed = FleetConfigParsed["services"][string]["realServers"][number];
/** A real (or fallback) server at the kernel's address; `checkAddress` the written one, when it differs. */
export type PortedServer = RealServerParsed & { checkAddress?: string };

/**
 * Gives every real server and fallback server the port the kernel holds it under: one written without a
 * port gets the VIP's (as `ipvsadm -a -t VIP:80 -r RS` does) or, in a fwmark service, port 0 (the packet's
 * own). With dr or tunnel forwarding the packet keeps its destination port, so ipvsadm and keepalived store
 * the VIP's port whatever port was written (a director that wanted the written one would "repair" that
 * forever): the kernel's address is used, and the written one kept for the checks (`checkAddress`). Port 0
 * written on a vip service is an error: such a service has one port.
 */
export function resolvePorts(
  service: FleetConfigParsed["services"][string],
  at: (...rest: (string | number)[]) => (string | number)[],
): { realServers: PortedServer[]; fallback: PortedServer[]; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const vip = service.vip === undefined ? undefined : parseEndpoint(service.vip);
  const vipPort = vip === undefined || "error" in vip ? undefined : vip.port;
  const resolve = (list: "realServers" | "fallback") =>
    service[list].map((rs, i): PortedServer => {
      const portless = !/:\d+$/.test(rs.address);
      if (portless) return { ...rs, address: `${rs.address}:${vipPort ?? 0}` };
      const forwarding = rs.forwarding ?? service.forwarding;
      const kernelPort = vipPort ?? 0;
      const port = Number(/:(\d+)$/.exec(rs.address)?.[1]);
      if (forwarding !== "nat" && port !== kernelPort && port !== 0) {
        const host = rs.address.slice(0, rs.address.lastIndexOf(":"));
        return { ...rs, address: `${host}:${kernelPort}`, checkAddress: rs.address };
      }
      if (vipPort !== undefined && rs.address.endsWith(":0")) {
        problems.push({
          path: at(list, i, "address"),
          message: `port 0 is outside 1-65535: only real servers of fwmark services go without a port (write none here to take the VIP's port ${vipPort})`,
        });
      }
      return rs;
    });
  return { realServers: resolve("realServers"), fallback: resolve("fallback"), problems };
}
