import { parseRealServerAddress } from "@lvsq/protocol";
import { resolveCheck } from "./check.js";
import { duplicates } from "./duplicates.js";
import type { ConfigProblem, FleetConfig, RealServerConfig, ServiceConfig } from "./fleet-config.js";
import { type PortedServer, resolvePorts } from "./real-server-ports.js";
import type { FleetConfigParsed } from "./schema.js";

/** What a service is checked against: the rest of the file, and the services checked before it. */
export type ServiceContext = {
  defaultCheck: FleetConfigParsed["defaults"]["check"];
  voteTtlMs: number;
  probes: FleetConfig["probes"];
  /** The VIPs of the services before this one (`tcp 192.0.2.10:80`, `fwmark inet 7`) → their ids. */
  vipOwners: ReadonlyMap<string, string>;
};

export type NormalizedService = {
  /** Present only when the service's check resolved. */
  service: ServiceConfig | undefined;
  /** This service's VIP as `vipOwners` keys it; undefined when it has neither vip nor fwmark. */
  identity: string | undefined;
  problems: ConfigProblem[];
};

/**
 * One service's cross-field checks and its final shape: exactly one of vip or fwmark, a VIP no other
 * service has, kernel ports, no server listed twice, one address family, the resolved check, known probes.
 * Returns every problem found, each with the path of the field to edit.
 */
export function normalizeService(
  id: string,
  service: FleetConfigParsed["services"][string],
  context: ServiceContext,
): NormalizedService {
  const { defaultCheck, voteTtlMs, probes, vipOwners } = context;
  const problems: ConfigProblem[] = [];
  const at = (...rest: (string | number)[]) => ["services", id, ...rest];
  if ((service.vip === undefined) === (service.fwmark === undefined)) {
    problems.push({ path: at(), message: "expected exactly one of vip (ip:port) or fwmark (a number)" });
    return { service: undefined, identity: undefined, problems };
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
  const other = vipOwners.get(identity);
  if (other !== undefined) {
    problems.push({
      path: at(service.vip !== undefined ? "vip" : "fwmark"),
      message: `${identity} is also used by service "${other}"`,
    });
  }

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

  const resolved = resolveCheck(defaultCheck, service.check);
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
  if ("check" in resolved && voteTtlMs <= resolved.check.intervalMs) {
    problems.push({
      path: ["quorum", "voteTtl"],
      message: `voteTtl (${voteTtlMs} ms) must be longer than the check interval of service "${id}" (${resolved.check.intervalMs} ms), or its votes expire between rounds`,
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
  if (!("check" in resolved)) return { service: undefined, identity, problems };
  const toRs = (rs: PortedServer): RealServerConfig => ({
    address: rs.address,
    checkAddress: rs.checkAddress,
    weight: rs.weight,
    forwarding: rs.forwarding ?? service.forwarding,
    upperThreshold: rs.upperThreshold,
    lowerThreshold: rs.lowerThreshold,
    notify: rs.notify,
  });
  return {
    identity,
    problems,
    service: {
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
    },
  };
}

function endpointFamily(text: string): "inet" | "inet6" {
  const parsed = parseRealServerAddress(text);
  return "error" in parsed ? "inet" : parsed.family;
}
