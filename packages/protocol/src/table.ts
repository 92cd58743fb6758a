import { z } from "zod";

/**
 * The ipvs table model shared by the engine (desired), the ipvs driver (observed) and the wire (desired
 * tables of a pair). It mirrors what `ipvsadm -S -n` can express, so a table survives a round trip.
 */
export const Protocol = z.enum(["tcp", "udp", "sctp"]);
export type Protocol = z.infer<typeof Protocol>;

export const Forwarding = z.enum(["dr", "nat", "tunnel"]);
export type Forwarding = z.infer<typeof Forwarding>;

export const Family = z.enum(["inet", "inet6"]);

/** Schedulers of a stock kernel (net/netfilter/ipvs/ip_vs_*.c); `-s` takes these names. */
export const KERNEL_SCHEDULERS = [
  "rr",
  "wrr",
  "lc",
  "wlc",
  "lblc",
  "lblcr",
  "dh",
  "sh",
  "sed",
  "nq",
  "fo",
  "ovf",
  "mh",
  "twos",
] as const;
export type Family = z.infer<typeof Family>;

export const RealServerEntry = z.object({
  address: z.string(),
  forwarding: Forwarding,
  weight: z.number().int().min(0).max(2147483647),
  upperThreshold: z.number().int().min(0).optional(),
  lowerThreshold: z.number().int().min(0).optional(),
  tunnelType: z.enum(["ipip", "gue", "gre"]).optional(),
  tunnelPort: z.number().int().min(1).max(65535).optional(),
  tunnelChecksum: z.enum(["nocsum", "csum", "remcsum"]).optional(),
});
export type RealServerEntry = z.infer<typeof RealServerEntry>;

export const Persistence = z.object({
  timeoutS: z.number().int().min(1),
  netmask: z.string().optional(),
});
export type Persistence = z.infer<typeof Persistence>;

export const VirtualServiceEntry = z.object({
  /** Identity of the virtual service: see `virtualServiceKey`. */
  key: z.string(),
  protocol: Protocol,
  /** Canonical `ip:port`, absent for fwmark services. */
  address: z.string().optional(),
  fwmark: z.number().int().min(1).optional(),
  family: Family,
  scheduler: z.string(),
  schedFlags: z.array(z.string()).optional(),
  persistence: Persistence.optional(),
  onePacket: z.boolean().optional(),
  persistenceEngine: z.string().optional(),
  realServers: z.array(RealServerEntry),
});
export type VirtualServiceEntry = z.infer<typeof VirtualServiceEntry>;

export const IpvsTable = z.object({ services: z.array(VirtualServiceEntry) });
export type IpvsTable = z.infer<typeof IpvsTable>;

/** `tcp 192.0.2.1:80`, `udp [2001:db8::1]:53`, `fwmark 7`, `fwmark6 7`: unique per kernel table. */
export function virtualServiceKey(
  service: Pick<VirtualServiceEntry, "protocol" | "address" | "fwmark" | "family">,
): string {
  if (service.fwmark !== undefined)
    return `${service.family === "inet6" ? "fwmark6" : "fwmark"} ${service.fwmark}`;
  return `${service.protocol} ${service.address}`;
}

/** A copy with services and real servers in a canonical order, so tables compare and digest stably. */
export function sortTable(table: IpvsTable): IpvsTable {
  return {
    services: [...table.services]
      .map((service) => ({
        ...service,
        realServers: [...service.realServers].sort((a, b) => compareText(a.address, b.address)),
      }))
      .sort((a, b) => compareText(a.key, b.key)),
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A short stable digest of a table (FNV-1a 64 over its canonical JSON), for heartbeats and drift checks.
 * Canonical = sorted services and real servers AND sorted object keys: the kernel parser, the engine and
 * KV records build equal entries with their fields in different orders, which must not change the digest.
 */
export function tableDigest(table: IpvsTable): string {
  const text = canonicalJson(sortTable(table));
  // Two 32-bit FNV-1a lanes with different offsets give 64 bits without BigInt: 10,000 real servers digest
  // in a few ms, and this runs after every apply.
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (a >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}

/** JSON with object keys in sorted order (arrays keep theirs), skipping undefined like JSON.stringify. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(record).sort()) {
    if (record[key] !== undefined) parts.push(`${JSON.stringify(key)}:${canonicalJson(record[key])}`);
  }
  return `{${parts.join(",")}}`;
}
