import type { ForwardingPin } from "@lvsq/config";
import { type IpvsTable, type VirtualServiceEntry, virtualServiceKey } from "@lvsq/protocol";

/**
 * The hidden fwmark services that pin: one per real server, holding only that server, so a connection
 * carrying the pin's mark can go nowhere else. IPVS looks a packet's fwmark up before its address, also
 * for connections this host opens (its LOCAL_OUT hook runs after the mangle output chain that marks).
 */
export function pinTable(pins: readonly ForwardingPin[]): IpvsTable {
  return {
    services: pins.map((pin): VirtualServiceEntry => {
      const ref = { protocol: "tcp" as const, fwmark: pin.fwmark, family: "inet" as const };
      return {
        key: virtualServiceKey(ref),
        ...ref,
        scheduler: "rr",
        realServers: [{ address: pin.rs, forwarding: pin.forwarding === "dr" ? "dr" : "tunnel", weight: 1 }],
      };
    }),
  };
}

/** The kernel keys of the pins: the only services the installer creates, changes or deletes. */
export function pinKeys(pins: readonly ForwardingPin[]): Set<string> {
  return new Set(pinTable(pins).services.map((service) => service.key));
}

/** nft names are letters, digits and underscores here: one table per probe id, so two never collide. */
export function nftTableName(probeId: string): string {
  return `lvsq_path_${probeId.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/**
 * The nft script that marks the pinned connections, whole: it creates the table (so the delete cannot
 * fail), deletes it and creates it again, in one transaction, so the rules are never half there. A `route`
 * chain, because a new mark must send the packet through routing (and IPVS) again.
 */
export function nftScript(table: string, source: string, pins: readonly ForwardingPin[]): string {
  const rules = pins.map(
    (pin) =>
      `    ip saddr ${source} ip daddr ${pin.vip} tcp dport ${pin.port} tcp sport ${pin.firstPort}-${pin.lastPort} meta mark set ${hex(pin.fwmark)} comment "${pin.service} ${pin.rs}"`,
  );
  return [
    `table ip ${table}`,
    `delete table ip ${table}`,
    `table ip ${table} {`,
    "  chain output {",
    "    type route hook output priority mangle; policy accept;",
    ...rules,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Removes the table; with nothing else, so running it twice is harmless (`nft -f` of it after a create). */
export function nftRemoveScript(table: string): string {
  return `table ip ${table}\ndelete table ip ${table}\n`;
}

function hex(mark: number): string {
  return `0x${mark.toString(16).padStart(8, "0")}`;
}
