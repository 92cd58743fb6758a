import { type Forwarding, parseEndpoint, parseRealServerAddress } from "@lvsq/protocol";
import { type CheckConfig, resolveCheck } from "./check.js";
import type { FleetConfigParsed } from "./schema.js";
import { thresholdCount } from "./threshold.js";

export type ConfigProblem = { path: (string | number)[]; message: string };

export const STANDALONE_SITE = "local";
export const STANDALONE_PROBE = "local";
export const STANDALONE_DIRECTOR = "local";

/**
 * Cross-field checks and the final shape. Returns every problem found (not just the first), each with the
 * path of the field an operator has to edit.
 */
export function normalizeConfig(
  raw: FleetConfigParsed,
): { config: FleetConfig } | { problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const standalone = raw.probes === undefined;
  if (raw.probes !== undefined && raw.sites === undefined) {
    problems.push({ path: ["sites"], message: "probes are configured, so sites must list their sites" });
  }
  const sites = raw.sites ?? [STANDALONE_SITE];
  const probes: FleetConfig["probes"] = (raw.probes ?? [{ id: STANDALONE_PROBE, site: STANDALONE_SITE }]).map(
    (p: { id: string; site: string; creds?: string | undefined }) => ({
      id: p.id,
      site: p.site,
      ...(p.creds !== undefined ? { creds: p.creds } : {}),
    }),
  );
  const directors: FleetConfig["directors"] = (raw.directors ?? [{ id: STANDALONE_DIRECTOR }]).map((d) => ({
    id: d.id,
    pair: d.pair,
    ...(d.creds !== undefined ? { creds: d.creds } : {}),
  }));

  for (const i of duplicates(sites)) {
    problems.push({ path: ["sites", i], message: `site "${sites[i]}" is listed twice` });
  }
  for (const i of duplicates(probes.map((p) => p.id))) {
    problems.push({ path: ["probes", i, "id"], message: `probe id "${probes[i]!.id}" is used twice` });
  }
  for (const i of duplicates(directors.map((d) => d.id))) {
    problems.push({
      path: ["directors", i, "id"],
      message: `director id "${directors[i]!.id}" is used twice`,
    });
  }
  probes.forEach((probe, i) => {
    if (raw.sites !== undefined && !sites.includes(probe.site)) {
      problems.push({
        path: ["probes", i, "site"],
        message: `unknown site "${probe.site}"; expected one of: ${sites.join(", ")}`,
      });
    }
  });

  const voters = raw.quorum.by === "site" ? sites.length : probes.length;
  for (const key of ["down", "up"] as const) {
    const needed = thresholdCount(raw.quorum[key], voters);
    if (needed > voters) {
      problems.push({
        path: ["quorum", key],
        message: `threshold ${raw.quorum[key]} can never be reached: only ${voters} ${raw.quorum.by}s are configured`,
      });
    }
  }

  const seenVips = new Map<string, string>();
  const services: Record<string, ServiceConfig> = {};
  for (const [id, service] of Object.entries(raw.services)) {
    const at = (...rest: (string | number)[]) => ["services", id, ...rest];
    if ((service.vip === undefined) === (service.fwmark === undefined)) {
      problems.push({ path: at(), message: "expected exactly one of vip (ip:port) or fwmark (a number)" });
      continue;
    }
    if (service.family !== undefined && service.vip !== undefined) {
      problems.push({
        path: at("family"),
        message: "family applies to fwmark services only (a vip implies it)",
      });
    }
    const family = service.vip !== undefined ? endpointFamily(service.vip) : (service.family ?? "inet");
    const identity =
      service.vip !== undefined ? `${service.protocol} ${service.vip}` : `fwmark ${family} ${service.fwmark}`;
    const other = seenVips.get(identity);
    if (other !== undefined) {
      problems.push({
        path: at(service.vip !== undefined ? "vip" : "fwmark"),
        message: `${identity} is also used by service "${other}"`,
      });
    }
    seenVips.set(identity, id);

    const ports = resolvePorts(service, at);
    problems.push(...ports.problems);
    const realServers = ports.realServers;
    const fallback = ports.fallback;
    const addresses = realServers.map((rs) => rs.address);
    for (const i of duplicates(addresses)) {
      const written = service.realServers[i]!.address;
      problems.push({
        path: at("realServers", i, "address"),
        message:
          written === addresses[i]
            ? `real server ${addresses[i]} is listed twice`
            : `real server ${written} is the kernel's ${addresses[i]} (with forwarding ${realServers[i]!.forwarding ?? service.forwarding} a packet keeps the VIP's port), which another real server of this service already is: list the server once, or use forwarding: nat to reach several ports of one host`,
      });
    }
    fallback.forEach((fb, i) => {
      if (addresses.includes(fb.address)) {
        problems.push({
          path: at("fallback", i, "address"),
          message: `${fb.address} is also a real server of this service; a fallback must be a different server`,
        });
      }
    });
    for (const i of duplicates(fallback.map((f) => f.address))) {
      problems.push({ path: at("fallback", i, "address"), message: "fallback server listed twice" });
    }
    const checkFamily = (list: "realServers" | "fallback") =>
      (list === "realServers" ? realServers : fallback).forEach((rs, i) => {
        const forwarding = rs.forwarding ?? service.forwarding;
        if (forwarding !== "tunnel" && endpointFamily(rs.address) !== family) {
          problems.push({
            path: at(list, i, "address"),
            message: `${rs.address} is ${endpointFamily(rs.address)} but the service is ${family}; mixing families needs forwarding: tunnel`,
          });
        }
      });
    checkFamily("realServers");
    checkFamily("fallback");

    const resolved = resolveCheck(raw.defaults.check, service.check);
    if ("problems" in resolved) {
      for (const p of resolved.problems) problems.push({ path: at("check", p.field), message: p.message });
    }
    if ("check" in resolved && resolved.check.port === undefined && resolved.check.type !== "icmp") {
      const portless = realServers.findIndex((rs) => rs.address.endsWith(":0") && !rs.checkAddress);
      if (portless >= 0) {
        problems.push({
          path: at("check", "port"),
          message: `real server ${realServers[portless]!.address} has no port (fwmark: it takes the packet's own), so the check needs one: set check.port (or use an icmp check)`,
        });
      }
    }
    if ("check" in resolved && raw.quorum.voteTtl <= resolved.check.intervalMs) {
      problems.push({
        path: ["quorum", "voteTtl"],
        message: `voteTtl (${raw.quorum.voteTtl} ms) must be longer than the check interval of service "${id}" (${resolved.check.intervalMs} ms), or its votes expire between rounds`,
      });
    }
    service.probes?.forEach((probe, i) => {
      if (!probes.some((p) => p.id === probe)) {
        problems.push({
          path: at("probes", i),
          message: `unknown probe "${probe}"; expected one of: ${probes.map((p) => p.id).join(", ")}`,
        });
      }
    });
    if (service.minUpWeight && service.minUpWeight.hysteresis >= service.minUpWeight.weight) {
      problems.push({
        path: at("minUpWeight", "hysteresis"),
        message: "hysteresis must be smaller than weight",
      });
    }
    if (service.weightQuorum && service.minUpWeight) {
      problems.push({
        path: at("weightQuorum"),
        message:
          "weightQuorum and minUpWeight both decide when the fallback goes in; set one (weightQuorum replaces the real servers, minUpWeight adds the fallback beside them)",
      });
    }
    if ("check" in resolved) {
      const toRs = (rs: PortedServer): RealServerConfig => ({
        address: rs.address,
        checkAddress: rs.checkAddress,
        weight: rs.weight,
        forwarding: rs.forwarding ?? service.forwarding,
        upperThreshold: rs.upperThreshold,
        lowerThreshold: rs.lowerThreshold,
        notify: rs.notify,
      });
      services[id] = {
        id,
        vip: service.vip,
        fwmark: service.fwmark,
        family,
        protocol: service.protocol,
        scheduler: service.scheduler,
        schedFlags: service.schedFlags,
        forwarding: service.forwarding,
        persistenceMs: service.persistence,
        persistenceNetmask: service.persistenceNetmask,
        onDown: service.onDown,
        fallback: fallback.map(toRs),
        check: resolved.check,
        realServers: realServers.map(toRs),
        removalLimit: service.removalLimit && {
          max: service.removalLimit.max,
          perMs: service.removalLimit.per,
        },
        minUpWeight: service.minUpWeight,
        weightQuorum: service.weightQuorum,
        probes: service.probes ?? probes.map((p) => p.id),
        notify: service.notify ?? {},
      };
    }
  }
  if (problems.length > 0) return { problems };
  return {
    config: {
      cluster: raw.cluster,
      standalone,
      nats: raw.nats,
      quorum: {
        by: raw.quorum.by,
        down: raw.quorum.down,
        up: raw.quorum.up,
        voteTtlMs: raw.quorum.voteTtl,
        startupGraceMs: raw.quorum.startupGrace,
      },
      sites,
      probes,
      directors,
      services,
      director: {
        ipvsadm: raw.director.ipvsadm,
        driver: raw.director.driver,
        reconcileIntervalMs: raw.director.reconcileInterval,
        leaseTtlMs: raw.director.leaseTtl,
        notify: { role: raw.director.notify.role, timeoutMs: raw.director.notify.timeout },
      },
    },
  };
}

export type RealServerConfig = {
  /** The kernel's view: `ip:port` as `ipvsadm -L -n` lists it (dr/tunnel: the VIP's port). */
  address: string;
  /** Where checks connect when that differs from `address` (a dr/tunnel server written with its own port). */
  checkAddress: string | undefined;
  weight: number;
  forwarding: Forwarding;
  upperThreshold: number | undefined;
  lowerThreshold: number | undefined;
  notify: { up?: string[] | undefined; down?: string[] | undefined } | undefined;
};

type ServiceParsed = FleetConfigParsed["services"][string];

export type ServiceConfig = Pick<
  ServiceParsed,
  | "vip"
  | "fwmark"
  | "protocol"
  | "scheduler"
  | "schedFlags"
  | "forwarding"
  | "persistenceNetmask"
  | "onDown"
  | "minUpWeight"
  | "weightQuorum"
> & {
  id: string;
  family: "inet" | "inet6";
  persistenceMs: number;
  fallback: RealServerConfig[];
  realServers: RealServerConfig[];
  check: CheckConfig;
  removalLimit: { max: number | string; perMs: number } | undefined;
  probes: string[];
  notify: NonNullable<ServiceParsed["notify"]>;
};

export type FleetConfig = {
  cluster: string;
  /** true when the file lists no probes: `lvsq run` with one local probe and director. */
  standalone: boolean;
  nats: FleetConfigParsed["nats"];
  quorum: {
    by: FleetConfigParsed["quorum"]["by"];
    down: FleetConfigParsed["quorum"]["down"];
    up: FleetConfigParsed["quorum"]["up"];
    voteTtlMs: number;
    startupGraceMs: number;
  };
  sites: string[];
  /** `creds`: this agent's own NATS credentials file (overrides `nats.creds`). */
  probes: { id: string; site: string; creds?: string }[];
  directors: { id: string; pair: string | undefined; creds?: string }[];
  services: Record<string, ServiceConfig>;
  director: {
    ipvsadm: string;
    /** undefined: netlink, falling back to ipvsadm (see @lvsq/ipvs openKernelDriver). */
    driver: "netlink" | "ipvsadm" | undefined;
    reconcileIntervalMs: number;
    leaseTtlMs: number;
    notify: { role: string[] | undefined; timeoutMs: number };
  };
};

type RealServerParsed = FleetConfigParsed["services"][string]["realServers"][number];
type PortedServer = RealServerParsed & { checkAddress?: string };

/**
 * Gives every real server and fallback server the port the kernel holds it under: one written without a
 * port gets the VIP's (as `ipvsadm -a -t VIP:80 -r RS` does) or, in a fwmark service, port 0 (the packet's
 * own). With dr or tunnel forwarding the packet keeps its destination port, so ipvsadm and keepalived store
 * the VIP's port whatever port was written (a director that wanted the written one would "repair" that
 * forever): the kernel's address is used, and the written one kept for the checks (`checkAddress`). Port 0
 * written on a vip service is an error: such a service has one port.
 */
function resolvePorts(
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

function endpointFamily(text: string): "inet" | "inet6" {
  const parsed = parseRealServerAddress(text);
  return "error" in parsed ? "inet" : parsed.family;
}

function duplicates(values: readonly string[]): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  values.forEach((value, i) => {
    if (seen.has(value)) out.push(i);
    seen.add(value);
  });
  return out;
}
