import { type IpvsTable, LvsqError, virtualServiceKey } from "@lvsq/protocol";
import { parseIpvsAddress } from "./address.js";

/** Upper/lower thresholds and current connections by service key, then real-server address. */
export type ThresholdMap = Map<string, Map<string, DestinationCounts>>;
export type DestinationCounts = { upper: number; lower: number; active: number; inactive: number };

const LIST_PROTOCOLS = { TCP: "tcp", UDP: "udp", SCTP: "sctp" } as const;

/**
 * `ipvsadm -S` does not write `-x`/`-y`, so the driver also reads `ipvsadm -L -n --thresholds`:
 * `TCP  192.0.2.1:80 rr` / `FWM  9 IPv6 rr` service lines, `  -> addr  upper lower active inactive`.
 */
export function parseThresholds(text: string): ThresholdMap {
  const out: ThresholdMap = new Map();
  let current: Map<string, DestinationCounts> | undefined;
  text.split("\n").forEach((raw, index) => {
    const tokens = raw.trim().split(/\s+/);
    const [first, second, third, fourth, fifth, sixth] = tokens;
    const fail = (): never => {
      throw new LvsqError(
        "ipvs_parse",
        `ipvsadm -L --thresholds line ${index + 1}: unexpected "${raw.trim()}"`,
      );
    };
    if (first === undefined || first === "" || first === "IP" || first === "Prot") return;
    if (first === "->") {
      if (second === "RemoteAddress:Port") return;
      const address = parseIpvsAddress(second ?? "")?.address ?? fail();
      if (current === undefined || !/^\d+$/.test(third ?? "") || !/^\d+$/.test(fourth ?? "")) fail();
      current?.set(address, {
        upper: Number(third),
        lower: Number(fourth),
        active: Number(fifth ?? 0),
        inactive: Number(sixth ?? 0),
      });
      return;
    }
    let key: string;
    if (first === "FWM") {
      if (!/^\d+$/.test(second ?? "")) fail();
      key = virtualServiceKey({
        protocol: "tcp",
        fwmark: Number(second),
        family: third === "IPv6" ? "inet6" : "inet",
      });
    } else if (first in LIST_PROTOCOLS) {
      const parsed = parseIpvsAddress(second ?? "") ?? fail();
      key = virtualServiceKey({
        protocol: LIST_PROTOCOLS[first as keyof typeof LIST_PROTOCOLS],
        address: parsed.address,
        family: parsed.family,
      });
    } else {
      fail();
      return;
    }
    current = new Map();
    out.set(key, current);
  });
  return out;
}

/** Copies non-zero thresholds into the table's real servers (in place, returns the table). */
export function mergeThresholds(table: IpvsTable, thresholds: ThresholdMap): IpvsTable {
  for (const service of table.services) {
    const byAddress = thresholds.get(service.key);
    if (byAddress === undefined) continue;
    for (const server of service.realServers) {
      const found = byAddress.get(server.address);
      if (found?.upper) server.upperThreshold = found.upper;
      if (found?.lower) server.lowerThreshold = found.lower;
    }
  }
  return table;
}
