import { duplicates } from "./duplicates.js";
import {
  type ConfigProblem,
  type FleetConfig,
  type ForwardingSettings,
  STANDALONE_DIRECTOR,
  STANDALONE_PROBE,
  STANDALONE_SITE,
  type ServiceConfig,
} from "./fleet-config.js";
import { forwardingProblems } from "./normalize-forwarding.js";
import { normalizeService } from "./normalize-service.js";
import type { FleetConfigParsed } from "./schema.js";
import { thresholdCount } from "./threshold.js";

/**
 * Cross-field checks and the final shape. The fleet-level rules are here (sites, probe and director ids,
 * quorum thresholds against the voters); each service's are in normalizeService. Returns every problem
 * found (not just the first), each with the path of the field an operator has to edit.
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
    (p: {
      id: string;
      site: string;
      creds?: string | undefined;
      forwarding?: ForwardingSettings | undefined;
    }) => ({
      id: p.id,
      site: p.site,
      ...(p.creds !== undefined ? { creds: p.creds } : {}),
      ...(p.forwarding !== undefined ? { forwarding: p.forwarding } : {}),
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
    const normalized = normalizeService(id, service, {
      defaultCheck: raw.defaults.check,
      voteTtlMs: raw.quorum.voteTtl,
      probes,
      vipOwners: seenVips,
    });
    problems.push(...normalized.problems);
    if (normalized.identity !== undefined) seenVips.set(normalized.identity, id);
    if (normalized.service) services[id] = normalized.service;
  }
  if (problems.length === 0) problems.push(...forwardingProblems({ probes, services }));
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
