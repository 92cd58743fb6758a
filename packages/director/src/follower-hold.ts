import type { FleetConfig } from "@lvsq/config";
import { serviceKey, type Verdict } from "@lvsq/engine";
import type { IpvsTable, VirtualServiceEntry } from "@lvsq/protocol";

export type FollowerView = {
  /** The table the leader's records make of the kernel's (LeaderRecords.compose). */
  composed: IpvsTable;
  kernel: IpvsTable;
  config: FleetConfig;
  /**
   * When this follower took the service's current record, by its own clock (the one its votes' receipt
   * times are on: the leader's `at` is another host's clock, and no decision compares two hosts' clocks).
   */
  takenAt(service: string): number | undefined;
  /**
   * For each real server this follower's engine has up with no admin override: the verdict of the votes
   * it received since `since` alone.
   */
  evidenceSince(service: string, since: number): ReadonlyMap<string, Verdict>;
  /** Servers newer votes have already shown up under the service's current record (held before). */
  provenStale(service: string): ReadonlySet<string>;
  /** This follower's own engine entry for a service. */
  decision(service: string): VirtualServiceEntry | undefined;
  /** The rule the leader's record gives each real server (`admin-disable`, `quorum-down`, ...). */
  recordRules(service: string): ReadonlyMap<string, string>;
  /** Monotonic ms, and since when each service has been held while awaiting newer votes. */
  now: number;
  awaitingSince(service: string): number | undefined;
  /** How long a hold may await newer votes (one vote TTL: by then every live site has voted again). */
  awaitMs: number;
};

export type HeldBack = {
  service: string;
  rs: string[];
  /**
   * `newer-votes-up`: votes received since the record have them up (now, or earlier under this same
   * record, with none having them down since); `awaiting-votes`: no newer votes decide yet.
   */
  why: "newer-votes-up" | "awaiting-votes";
};

/**
 * A leader's record can be stale in substance: written while the leader saw a server down, and never
 * rewritten because the leader was cut off when the server came back. A follower applying it would take a
 * server out of its kernel that a quorum of sites sees up, which no director may do on its own votes.
 * Votes the follower received before it took the record are no evidence against it (a follower cut off
 * while the server failed still holds its last up votes; the leader saw what came after), so only newer
 * ones count.
 *
 * For a service whose record takes out (or quiesces) a server the kernel carries, for health and not by an
 * operator's override (the record's rule says which: its leader may know of a disable this follower has
 * not read yet), and that the follower's own decision keeps: if the votes received since it took the
 * record have it up by a quorum, the follower keeps that server (as its own decision has it; the rest of
 * the service as the record says, without the fallback), and goes on doing so under that record until
 * newer votes have the server down (votes that stop coming, in a broker fault or a flood, prove nothing
 * new: the record stays disproved); if they decide nothing yet (a follower just back from isolation, a
 * record that came before the votes behind it), it does so while it awaits them, for one vote TTL at most;
 * if they have it down, the record stands.
 */
export function holdBackContradicted(view: FollowerView): { table: IpvsTable; held: HeldBack[] } {
  const kernelByKey = new Map(view.kernel.services.map((s) => [s.key, s]));
  const replaced = new Map<string, VirtualServiceEntry>();
  const held: HeldBack[] = [];
  for (const [id, service] of Object.entries(view.config.services)) {
    const key = serviceKey(service);
    const recorded = view.composed.services.find((s) => s.key === key);
    const inKernel = kernelByKey.get(key);
    // A service the record removes or the kernel lacks is about config and ownership, not health.
    if (!recorded || !inKernel) continue;
    const at = view.takenAt(id);
    const own = view.decision(id);
    if (at === undefined || !own) continue;
    const evidence = view.evidenceSince(id, at);
    if (evidence.size === 0) continue;
    const recordedWeight = weights(recorded);
    const ownWeight = weights(own);
    const rules = view.recordRules(id);
    const takenOut = inKernel.realServers.filter(
      (rs) =>
        rs.weight > 0 &&
        evidence.has(rs.address) &&
        !(rules.get(rs.address) ?? "").startsWith("admin-") &&
        (recordedWeight.get(rs.address) ?? 0) === 0 &&
        (ownWeight.get(rs.address) ?? 0) > 0,
    );
    const proven = view.provenStale(id);
    const upSince = takenOut
      .filter((rs) => {
        const verdict = evidence.get(rs.address);
        return verdict === "up" || (verdict === "fail-static" && proven.has(rs.address));
      })
      .map((rs) => rs.address);
    const undecided = takenOut
      .filter((rs) => evidence.get(rs.address) === "fail-static" && !proven.has(rs.address))
      .map((rs) => rs.address);
    const since = view.awaitingSince(id);
    const mayAwait = since === undefined || view.now - since < view.awaitMs;
    const hold: HeldBack | undefined =
      upSince.length > 0
        ? { service: id, rs: upSince, why: "newer-votes-up" }
        : undecided.length > 0 && mayAwait
          ? { service: id, rs: undecided, why: "awaiting-votes" }
          : undefined;
    if (!hold) continue;
    held.push(hold);
    replaced.set(key, keepServers(recorded, own, new Set(hold.rs), service.fallback));
  }
  if (replaced.size === 0) return { table: view.composed, held };
  return {
    table: { services: view.composed.services.map((s) => replaced.get(s.key) ?? s) },
    held,
  };
}

/** The record's entry with `kept` as the follower's own decision has them, and no fallback server. */
function keepServers(
  recorded: VirtualServiceEntry,
  own: VirtualServiceEntry,
  kept: ReadonlySet<string>,
  fallback: readonly { address: string }[],
): VirtualServiceEntry {
  const sorry = new Set(fallback.map((f) => f.address));
  const others = recorded.realServers.filter((rs) => !kept.has(rs.address) && !sorry.has(rs.address));
  const mine = own.realServers.filter((rs) => kept.has(rs.address));
  const realServers = [...others, ...mine].sort((a, b) => (a.address < b.address ? -1 : 1));
  return { ...recorded, realServers };
}

function weights(entry: VirtualServiceEntry): Map<string, number> {
  return new Map(entry.realServers.map((rs) => [rs.address, rs.weight]));
}
