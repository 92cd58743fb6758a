import {
  type IpvsTable,
  type RealServerEntry,
  type VirtualServiceEntry,
  virtualServiceKey,
} from "@lvsq/protocol";

/** Tables for the kernel tests of both ipvs drivers and the netlink fixture capture. */

export type ServiceId = Pick<VirtualServiceEntry, "protocol" | "address" | "fwmark" | "family">;

export function svc(
  id: ServiceId,
  scheduler: string,
  realServers: RealServerEntry[],
  extra: Partial<VirtualServiceEntry> = {},
): VirtualServiceEntry {
  return { key: virtualServiceKey(id), ...id, scheduler, realServers, ...extra } as VirtualServiceEntry;
}

export const tcp = (address: string): ServiceId => ({
  protocol: "tcp",
  address,
  family: address.startsWith("[") ? "inet6" : "inet",
});

export const dr = (address: string, weight = 1): RealServerEntry => ({ address, forwarding: "dr", weight });

export const keys = (t: IpvsTable) => new Set(t.services.map((s) => s.key));

/**
 * Every scheduler the guest kernel has, DR/NAT/TUN (ipip, gue, gre, each checksum mode), persistence with
 * netmasks, one-packet, the sip persistence engine, scheduler flags, UDP, SCTP, fwmark, fwmark6, IPv6 and
 * thresholds. Written in canonical form (defaults spelled out as ipvsadm -S prints them), so a read of the
 * kernel must equal it.
 */
export function coverageTable(schedulers: string[]): IpvsTable {
  const services: VirtualServiceEntry[] = schedulers.map((scheduler, i) =>
    svc(tcp(`192.0.2.${10 + i}:80`), scheduler, [dr("198.51.100.1:80", 1), dr("198.51.100.2:80", i + 2)], {
      ...(scheduler === "sh" || scheduler === "mh"
        ? { schedFlags: [`${scheduler}-fallback`, `${scheduler}-port`] }
        : {}),
    }),
  );
  services.push(
    svc(
      tcp("192.0.2.40:80"),
      "wlc",
      [
        { address: "127.0.0.2:8080", forwarding: "nat", weight: 3, upperThreshold: 100, lowerThreshold: 10 },
        { address: "198.51.100.3:80", forwarding: "tunnel", weight: 1, tunnelType: "ipip" },
        {
          address: "198.51.100.4:80",
          forwarding: "tunnel",
          weight: 1,
          tunnelType: "gue",
          tunnelPort: 6080,
          tunnelChecksum: "remcsum",
        },
        {
          address: "198.51.100.5:80",
          forwarding: "tunnel",
          weight: 1,
          tunnelType: "gre",
          tunnelChecksum: "csum",
        },
        dr("198.51.100.6:80", 0),
      ],
      { persistence: { timeoutS: 300, netmask: "255.255.255.0" } },
    ),
    svc({ protocol: "udp", address: "192.0.2.41:53", family: "inet" }, "rr", [dr("198.51.100.7:53")], {
      onePacket: true,
    }),
    svc({ protocol: "udp", address: "192.0.2.42:5060", family: "inet" }, "rr", [], {
      persistence: { timeoutS: 30 },
      persistenceEngine: "sip",
      schedFlags: ["flag-3"],
    }),
    svc({ protocol: "sctp", address: "192.0.2.43:3868", family: "inet" }, "rr", [dr("198.51.100.8:3868", 2)]),
    svc(
      { protocol: "tcp", fwmark: 7, family: "inet" },
      "wrr",
      [dr("198.51.100.9:0"), dr("198.51.100.10:80", 4)],
      {
        persistence: { timeoutS: 360 },
      },
    ),
    svc({ protocol: "tcp", fwmark: 7, family: "inet6" }, "rr", [dr("[2001:db8::7]:0")], {
      persistence: { timeoutS: 60, netmask: "64" },
    }),
    svc(tcp("[2001:db8::1]:443"), "lc", [
      { address: "[2001:db8::2]:443", forwarding: "nat", weight: 1, upperThreshold: 7 },
      dr("[2001:db8::3]:443", 9),
    ]),
    svc({ protocol: "udp", address: "[2001:db8::1]:53", family: "inet6" }, "rr", [dr("[2001:db8::4]:53")]),
    svc({ protocol: "sctp", address: "[2001:db8::1]:3868", family: "inet6" }, "rr", []),
  );
  return { services };
}
