import type { FleetConfig } from "@lvsq/config";
import { serviceKey } from "@lvsq/engine";
import type { IpvsDriver } from "@lvsq/ipvs";
import type { DirectorHeartbeat, IpvsTable } from "@lvsq/protocol";

/** One draining real server and this director's kernel connections for it (null: not at weight 0 yet, or unknown). */
export type DrainCount = NonNullable<DirectorHeartbeat["drains"]>[number];

/** What a pair member last reported about its drains, and when that report arrived. */
export type PartnerDrains = {
  director: string;
  drains: readonly DrainCount[] | undefined;
  receivedAt: number;
};

/**
 * This director's side of every drain: the kernel's active + inactive connections for each draining real
 * server, read only once the server is at weight 0 here (before that, new connections still arrive).
 */
export async function drainCounts(
  driver: IpvsDriver,
  config: FleetConfig,
  draining: readonly { service: string; rs: string }[],
  kernel: IpvsTable | undefined,
): Promise<DrainCount[]> {
  if (draining.length === 0) return [];
  const counts = driver.connections && kernel ? await driver.connections() : undefined;
  return draining.map(({ service, rs }) => {
    const svc = config.services[service];
    const vsKey = svc ? serviceKey(svc) : "";
    const inKernel = kernel?.services.find((s) => s.key === vsKey)?.realServers.find((r) => r.address === rs);
    const connections = inKernel?.weight === 0 ? counts?.get(vsKey)?.get(rs) : undefined;
    return { service, rs, connections: connections ?? null };
  });
}

export type DrainVerdict = { service: string; rs: string; done: boolean; why: string };

/**
 * Which drains are over. Alone, a director ends a drain when its own kernel shows no connections left. In a
 * pair the VRRP-active node carries the connections, and that need not be the lvsq leader, so the leader
 * ends a drain only when every member of the pair has reported 0 for it in a heartbeat younger than
 * `staleMs`: a partner that is silent (down, or cut off from NATS) may still be serving connections, so its
 * silence keeps the drain going (a drain's --deadline still ends it).
 */
export function drainVerdicts(
  own: readonly DrainCount[],
  partners: readonly string[],
  reports: ReadonlyMap<string, PartnerDrains>,
  now: number,
  staleMs: number,
): DrainVerdict[] {
  return own.map(({ service, rs, connections }) => {
    const verdict = (done: boolean, why: string) => ({ service, rs, done, why });
    if (connections === null) return verdict(false, "not at weight 0 in this kernel yet");
    if (connections > 0) return verdict(false, `${connections} connection(s) left in this kernel`);
    for (const partner of partners) {
      const report = reports.get(partner);
      if (!report || now - report.receivedAt > staleMs) {
        return verdict(
          false,
          `waiting for ${partner} to report its connections (no heartbeat for ${staleMs} ms)`,
        );
      }
      if (report.drains === undefined) {
        return verdict(
          false,
          `waiting for ${partner}: its heartbeat carries no connection counts (older lvsq?)`,
        );
      }
      const theirs = report.drains.find((d) => d.service === service && d.rs === rs)?.connections;
      if (theirs === undefined || theirs === null) {
        return verdict(false, `waiting for ${partner}: not at weight 0 in its kernel yet`);
      }
      if (theirs > 0) return verdict(false, `${theirs} connection(s) left in ${partner}'s kernel`);
    }
    return verdict(
      true,
      partners.length === 0 ? "drained: no connections left" : "drained: no connections left in the pair",
    );
  });
}
