import { parseEndpoint, type Forwarding } from "@lvsq/protocol";
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

    const addresses = service.realServers.map((rs) => rs.address);
    for (const i of duplicates(addresses)) {
      problems.push({
        path: at("realServers", i, "address"),
        message: `real server ${addresses[i]} is listed twice`,
      });
    }
    service.fallback.forEach((fb, i) => {
      if (addresses.includes(fb.address)) {
        problems.push({
          path: at("fallback", i, "address"),
          message: `${fb.address} is also a real server of this service; a fallback must be a different server`,
        });
      }
    });
    for (const i of duplicates(service.fallback.map((f) => f.address))) {
      problems.push({ path: at("fallback", i, "address"), message: "fallback server listed twice" });
    }
    const checkFamily = (list: "realServers" | "fallback") =>
      service[list].forEach((rs, i) => {
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
    if ("check" in resolved) {
      const toRs = (rs: (typeof service.realServers)[number]): RealServerConfig => ({
        address: rs.address,
        weight: rs.weight,
        forwarding: rs.forwarding ?? service.forwarding,
        upperThreshold: rs.upperThreshold,
        lowerThreshold: rs.lowerThreshold,
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
        fallback: service.fallback.map(toRs),
        check: resolved.check,
        realServers: service.realServers.map(toRs),
        removalLimit: service.removalLimit && {
          max: service.removalLimit.max,
          perMs: service.removalLimit.per,
        },
        minUpWeight: service.minUpWeight,
        probes: service.probes ?? probes.map((p) => p.id),
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
        reconcileIntervalMs: raw.director.reconcileInterval,
        leaseTtlMs: raw.director.leaseTtl,
      },
    },
  };
}

export type RealServerConfig = {
  address: string;
  weight: number;
  forwarding: Forwarding;
  upperThreshold: number | undefined;
  lowerThreshold: number | undefined;
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
> & {
  id: string;
  family: "inet" | "inet6";
  persistenceMs: number;
  fallback: RealServerConfig[];
  realServers: RealServerConfig[];
  check: CheckConfig;
  removalLimit: { max: number | string; perMs: number } | undefined;
  probes: string[];
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
  director: { ipvsadm: string; reconcileIntervalMs: number; leaseTtlMs: number };
};

function endpointFamily(text: string): "inet" | "inet6" {
  const parsed = parseEndpoint(text);
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
