import { readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";

/** What the conditions are judged from: this host's IPv4 addresses and its sysctls. */
export type HostFacts = {
  /** Each local IPv4 address → the interface that holds it. */
  addresses: ReadonlyMap<string, string>;
  /** A sysctl by its /proc/sys path (`net/ipv4/conf/all/accept_local`); undefined when unreadable. */
  sysctl(path: string): number | undefined;
};

export type PathConditions = {
  /** Why no check through the path can run on this host: every one abstains with it. */
  blocked: string | undefined;
  /** Per VIP: why the replies to checks through it would be dropped here (those checks abstain). */
  byVip: ReadonlyMap<string, string>;
};

/**
 * Whether replies to pinned checks can reach the probe. They come from the VIP (the real server answers
 * as the VIP, to the director's own address), so where this host holds the VIP itself the kernel takes
 * them for spoofed ones unless `accept_local` is on, and strict reverse-path filtering drops them even
 * then (the VIP's route is a local one, not the interface they come in on). A check that cannot get its
 * reply must abstain, not vote every real server down.
 */
export function judgeConditions(source: string, vips: Iterable<string>, facts: HostFacts): PathConditions {
  const dev = facts.addresses.get(source);
  if (dev === undefined) {
    return {
      blocked: `forwarding source ${source} is not an address of this host (probes[].forwarding.source)`,
      byVip: new Map(),
    };
  }
  const byVip = new Map<string, string>();
  const conf = (name: string, key: string) => facts.sysctl(`net/ipv4/conf/${name}/${key}`);
  const acceptLocal = conf("all", "accept_local") === 1 || conf(dev, "accept_local") === 1;
  const rpFilter = Math.max(conf("all", "rp_filter") ?? 0, conf(dev, "rp_filter") ?? 0);
  for (const vip of vips) {
    if (!facts.addresses.has(vip)) continue;
    if (!acceptLocal) {
      byVip.set(
        vip,
        `this host holds VIP ${vip}, so replies from it are dropped as martians: set net.ipv4.conf.${dev}.accept_local=1`,
      );
    } else if (rpFilter === 1) {
      byVip.set(
        vip,
        `strict rp_filter on ${dev} drops replies from VIP ${vip}: set net.ipv4.conf.{all,${dev}}.rp_filter to 2 (loose) or 0`,
      );
    }
  }
  return { blocked: undefined, byVip };
}

/** This host's facts, read now. */
export function readHostFacts(): HostFacts {
  const addresses = new Map<string, string>();
  for (const [name, entries] of Object.entries(networkInterfaces())) {
    for (const entry of entries ?? []) if (entry.family === "IPv4") addresses.set(entry.address, name);
  }
  return {
    addresses,
    sysctl(path) {
      try {
        const value = Number(readFileSync(`/proc/sys/${path}`, "utf8").trim());
        return Number.isInteger(value) ? value : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
