import { type FleetConfig, parseConfig } from "@lvsq/config";
import { createMemoryDriver, type MemoryDriver } from "@lvsq/ipvs";
import { type AdminAction, type IpvsTable, kvKeys, subjects, type VoteState } from "@lvsq/protocol";
import type { DirectorAgent } from "./agent.js";
import type { Bus } from "@lvsq/bus";

/**
 * The world a PairSim runs in (pair-sim.ts drives it): one service with three real servers, three probes
 * (one per site), a pair of directors, and the messages its steps write to the bus as the real writers do.
 */
export const SIM_RS = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"] as const;
export const SIM_PROBES = [
  { id: "p1", site: "dc1" },
  { id: "p2", site: "dc2" },
  { id: "p3", site: "dc3" },
] as const;

/** The author of `rogueWrite` records. */
export const ROGUE = "rogue";

export function simConfig(directors: readonly string[] = ["a", "b"], leaseTtl = "3s"): FleetConfig {
  const input = {
    cluster: "sim",
    quorum: { by: "site", voteTtl: "6s", startupGrace: "0s" },
    sites: ["dc1", "dc2", "dc3"],
    probes: SIM_PROBES,
    directors: directors.map((id) => ({ id, pair: "edge" })),
    director: { leaseTtl, reconcileInterval: "1h" },
    services: {
      web: {
        vip: "192.0.2.10:80",
        scheduler: "wrr",
        realServers: SIM_RS.map((address, i) => ({ address, weight: i + 1 })),
        fallback: [{ address: "127.0.0.1:80", weight: 1 }],
      },
    },
  };
  return parseConfig(JSON.stringify(input), "sim.yaml", { env: {} });
}

export type SimSubmit = {
  at: number;
  epoch: number;
  role: string;
  digest: string;
  /** How many times the desired bucket had been made again (a pair's epochs then start over, pairs.md 24). */
  generation: number;
  /** Servers a follower's table took out of its kernel while its own votes had them up by a fresh quorum. */
  removedWhileUp: string[];
};

export type SimDirector = {
  id: string;
  driver: MemoryDriver;
  bus: Bus | undefined;
  agent: DirectorAgent | undefined;
  /** Tables handed to the apply loop, per incarnation (reset on restart). */
  submits: SimSubmit[];
  /** Kernel applies (batches reaching the memory driver), with the sim time. */
  applies: { at: number; digest: string }[];
  /** The kernel as the last apply left it. */
  kernelNow: IpvsTable;
  /** How far this host's wall clock is from the server's (it may step); its monotonic clock runs true. */
  skewMs: number;
  /** This director's own `leaseTtl` (a rolling change of it); the fleet's when undefined. */
  leaseTtlMs: number | undefined;
};

export type SimWrite = {
  revision: number;
  key: string;
  epoch: number;
  leader: string;
  rogue: boolean;
  /** How many times the desired bucket had been reset when this was written (revisions restart). */
  generation: number;
};

/**
 * The servers a follower's new table takes out of (or quiesces in) its kernel although the votes it
 * received after it took the leader's record have them up in a majority of the three sites, with no
 * override on them (in its view or the record's) and its view of the overrides current: what
 * follower-hold.ts exists to prevent.
 * Counted from the agent's vote views, not from the query the hold itself uses. A leader's table is its
 * own decision and is never counted.
 */
export function removedWhileUp(
  agent: DirectorAgent | undefined,
  kernel: IpvsTable,
  table: IpvsTable,
): string[] {
  if (agent?.role !== "follower" || !agent.overridesCurrent()) return [];
  const recordAt = agent.pair?.recordTakenAt("web");
  if (recordAt === undefined) return [];
  const members = (t: IpvsTable) =>
    new Map((t.services[0]?.realServers ?? []).map((rs) => [rs.address, rs.weight]));
  const before = members(kernel);
  const after = members(table);
  const sinceRecordMs = agent.now() - recordAt;
  // A server the record has out by an operator's override is the operator's call, never a wrong removal.
  const byOperator = new Set(
    (agent.pair?.records.record("web")?.reasons ?? [])
      .filter((r) => r.rule.startsWith("admin-"))
      .map((r) => r.rs),
  );
  const seenUp = (agent.explain("web")?.realServers ?? [])
    .filter((rs) => rs.health === "up" && rs.rule === "quorum-up" && !rs.admin)
    .filter((rs) => {
      const newer = (site: (typeof rs.sites)[number], state: string) =>
        site.votes.filter((v) => v.state === state && v.ageMs !== null && v.ageMs < sinceRecordMs).length;
      return rs.sites.filter((site) => newer(site, "up") > newer(site, "down")).length >= 2;
    })
    .map((rs) => rs.rs);
  return seenUp.filter(
    (rs) => !byOperator.has(rs) && (before.get(rs) ?? 0) > 0 && (after.get(rs) ?? 0) === 0,
  );
}

/** A director not started yet, with its own empty kernel. */
export function simDirector(id: string): SimDirector {
  return {
    id,
    driver: createMemoryDriver(),
    bus: undefined,
    agent: undefined,
    submits: [],
    applies: [],
    kernelNow: { services: [] },
    skewMs: 0,
    leaseTtlMs: undefined,
  };
}

/** A desired record no fenced leader would write: `epoch`'s, by ROGUE, with the `down` servers left out. */
export function rogueRecord(config: FleetConfig, epoch: number, down: readonly string[], at: number) {
  const service = config.services.web!;
  return {
    v: 1,
    cluster: config.cluster,
    pair: "edge",
    service: "web",
    epoch,
    leader: ROGUE,
    at,
    table: {
      key: "tcp 192.0.2.10:80",
      protocol: "tcp",
      address: "192.0.2.10:80",
      family: "inet",
      scheduler: service.scheduler,
      realServers: SIM_RS.filter((rs) => !down.includes(rs)).map((address) => ({
        address,
        forwarding: "dr",
        weight: 7,
      })),
    },
    reasons: [],
  };
}

/** An operator's override as `lvsq admin ACTION web RS` writes it: its key and value. */
export function adminRecord(rs: string, action: AdminAction, at: number) {
  return {
    key: kvKeys.admin("web", rs),
    value: { v: 1, service: "web", rs, action, author: "sim", reason: "sim", at },
  };
}

/** One probe's full view of the service (`truth`, every server up unless it says otherwise). */
export function voteBatch(
  config: FleetConfig,
  probe: (typeof SIM_PROBES)[number],
  seq: number,
  truth: ReadonlyMap<string, VoteState>,
  now: number,
) {
  return {
    subject: subjects.votes(config.cluster, probe.id, "web"),
    batch: {
      v: 1,
      cluster: config.cluster,
      probe: probe.id,
      site: probe.site,
      service: "web",
      seq,
      sentAt: now,
      intervalMs: 1000,
      votes: SIM_RS.map((rs) => ({
        rs,
        state: truth.get(rs) ?? "up",
        since: now,
        latencyMs: 1,
        reason: "sim",
      })),
    },
  };
}
