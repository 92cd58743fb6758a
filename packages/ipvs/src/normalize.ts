import type { RealServerEntry, VirtualServiceEntry } from "@lvsq/protocol";
import type { ServiceSettings } from "./ops.js";

/**
 * The kernel stores defaults that `ipvsadm -S` then prints (or omits): `-i` alone is `--tun-type ipip`,
 * a zero threshold is no threshold, `-M 255.255.255.255` is no netmask, `-b flag-1` under `sh` is
 * `sh-fallback`. Normalising both sides lets `plan` compare a hand-written desired table with a read one.
 */

const SCHED_FLAG_BITS: Record<string, number> = {
  "flag-1": 1,
  "sh-fallback": 1,
  "mh-fallback": 1,
  "flag-2": 2,
  "sh-port": 2,
  "mh-port": 2,
  "flag-3": 3,
};

/** The flag names ipvsadm accepts and prints for `scheduler`, by bit (1..3). */
export function schedFlagName(scheduler: string, bit: number): string {
  if ((scheduler === "sh" || scheduler === "mh") && bit <= 2) {
    return `${scheduler}-${bit === 1 ? "fallback" : "port"}`;
  }
  return `flag-${bit}`;
}

export function schedFlagBit(name: string): number | undefined {
  return SCHED_FLAG_BITS[name];
}

/** Canonical flag names in bit order; unknown names are kept (ipvsadm will reject them, loudly). */
export function normalizeSchedFlags(scheduler: string, flags: readonly string[] | undefined): string[] {
  if (flags === undefined) return [];
  const bits = new Set<number>();
  const unknown: string[] = [];
  for (const flag of flags) {
    const bit = schedFlagBit(flag);
    if (bit === undefined) unknown.push(flag);
    else bits.add(bit);
  }
  const named = [...bits].sort((a, b) => a - b).map((bit) => schedFlagName(scheduler, bit));
  return [...named, ...[...new Set(unknown)].sort()];
}

function defaultNetmask(family: VirtualServiceEntry["family"]): string {
  return family === "inet6" ? "128" : "255.255.255.255";
}

export function normalizeSettings(service: ServiceSettings): ServiceSettings {
  const out: ServiceSettings = {
    key: service.key,
    protocol: service.protocol,
    family: service.family,
    scheduler: service.scheduler,
  };
  if (service.address !== undefined) out.address = service.address;
  if (service.fwmark !== undefined) out.fwmark = service.fwmark;
  const flags = normalizeSchedFlags(service.scheduler, service.schedFlags);
  if (flags.length > 0) out.schedFlags = flags;
  if (service.persistence !== undefined) {
    const { timeoutS, netmask } = service.persistence;
    out.persistence =
      netmask === undefined || netmask === defaultNetmask(service.family)
        ? { timeoutS }
        : { timeoutS, netmask };
  }
  if (service.onePacket === true) out.onePacket = true;
  if (service.persistenceEngine !== undefined && service.persistenceEngine !== "") {
    out.persistenceEngine = service.persistenceEngine;
  }
  return out;
}

export function normalizeServer(server: RealServerEntry): RealServerEntry {
  const out: RealServerEntry = {
    address: server.address,
    forwarding: server.forwarding,
    weight: server.weight,
  };
  if (server.upperThreshold) out.upperThreshold = server.upperThreshold;
  if (server.lowerThreshold) out.lowerThreshold = server.lowerThreshold;
  if (server.forwarding === "tunnel") {
    const type = server.tunnelType ?? "ipip";
    out.tunnelType = type;
    if (type === "gue" && server.tunnelPort !== undefined) out.tunnelPort = server.tunnelPort;
    if (type !== "ipip") out.tunnelChecksum = server.tunnelChecksum ?? "nocsum";
  }
  return out;
}

export function normalizeService(service: VirtualServiceEntry): VirtualServiceEntry {
  return { ...normalizeSettings(service), realServers: service.realServers.map(normalizeServer) };
}

export function sameSettings(a: ServiceSettings, b: ServiceSettings): boolean {
  const x = normalizeSettings(a);
  const y = normalizeSettings(b);
  return (
    x.scheduler === y.scheduler &&
    (x.schedFlags ?? []).join(",") === (y.schedFlags ?? []).join(",") &&
    x.persistence?.timeoutS === y.persistence?.timeoutS &&
    x.persistence?.netmask === y.persistence?.netmask &&
    x.onePacket === y.onePacket &&
    x.persistenceEngine === y.persistenceEngine
  );
}

export function sameServer(a: RealServerEntry, b: RealServerEntry): boolean {
  const x = normalizeServer(a);
  const y = normalizeServer(b);
  return (
    x.address === y.address &&
    x.forwarding === y.forwarding &&
    x.weight === y.weight &&
    x.upperThreshold === y.upperThreshold &&
    x.lowerThreshold === y.lowerThreshold &&
    x.tunnelType === y.tunnelType &&
    x.tunnelPort === y.tunnelPort &&
    x.tunnelChecksum === y.tunnelChecksum
  );
}
