import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { fromHexEndpoint, kernelHasService, procHexEndpoint, readKernelService } from "./in-guest.js";

export { fromHexEndpoint, kernelHasService, readKernelService };
/** `C0000210:0050` for 192.0.2.16:80, as /proc/net/ip_vs prints it. */
export const hexEndpoint = procHexEndpoint;

/**
 * A multi-site LVS fleet as network namespaces INSIDE the guest (see guest.ts), built with a handful of
 * `ip -batch` runs because every process start costs 50-250 ms there:
 *
 *   root ns: bridge lvsq-mgmt 203.0.113.1/24 (the scenario itself talks to NATS over it)
 *            bridge lvsq-be   (no address)
 *   nats      203.0.113.2   (mgmt)                        nats-server listens here
 *   site-X    203.0.113.1N  (mgmt) + 198.51.100.2N (be)   one probe each; "partition" = its be link down
 *   director  203.0.113.5   (mgmt) + 198.51.100.1 (be)    VIP on a dummy, ip_forward on (NAT forwarding)
 *   backends  198.51.100.11.. on one link, default route via the director (NAT replies go back through it)
 *   client    203.0.113.50, default route via the director (reaches the VIP like a customer would)
 *
 * Only TEST-NET ranges; nothing leaves the guest (it has no network device to the host).
 */

export type Fleet = {
  mgmtHost: string;
  nats: { netns: string; address: string };
  sites: {
    id: string;
    netns: string;
    mgmtAddress: string;
    beAddress: string;
    /** The root-side end of the site's link to the backends (a port of the backends' bridge). */
    beOuter: string;
  }[];
  director: { netns: string; mgmtAddress: string; beAddress: string };
  backends: { netns: string; addresses: string[] };
  client: { netns: string; address: string };
  vip: string;
};

export type FleetOptions = {
  /** Site ids (letters or short tokens; at most 9). */
  sites: readonly string[];
  /** Backend addresses in 198.51.100.0/24 (not .1 nor .2x, which the fleet uses). */
  backends: readonly string[];
  /** VIP address (no port), e.g. 192.0.2.10 */
  vip: string;
  prefix?: string;
};

function ipBatch(lines: readonly string[], netns?: string): void {
  const argv = netns === undefined ? ["-batch", "-"] : ["-n", netns, "-batch", "-"];
  try {
    execFileSync("ip", argv, { input: `${lines.join("\n")}\n`, encoding: "utf8", timeout: 20_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`ip ${argv.join(" ")} failed: ${stderr.trim()}\n${lines.join("\n")}`);
  }
}

/** Builds every namespace, link, address and route of the fleet. */
export function buildFleet(options: FleetOptions): Fleet {
  const p = options.prefix ?? "lvsq";
  const fleet: Fleet = {
    mgmtHost: "203.0.113.1",
    nats: { netns: `${p}-nats`, address: "203.0.113.2" },
    sites: options.sites.map((id, i) => ({
      id,
      netns: `${p}-site-${id}`,
      mgmtAddress: `203.0.113.${11 + i}`,
      beAddress: `198.51.100.${21 + i}`,
      beOuter: "",
    })),
    director: { netns: `${p}-dir`, mgmtAddress: "203.0.113.5", beAddress: "198.51.100.1" },
    backends: { netns: `${p}-be`, addresses: [...options.backends] },
    client: { netns: `${p}-client`, address: "203.0.113.50" },
    vip: options.vip,
  };
  const namespaces = [
    fleet.nats.netns,
    ...fleet.sites.map((s) => s.netns),
    fleet.director.netns,
    fleet.backends.netns,
    fleet.client.netns,
  ];
  // One veth per (namespace, network): the root-side end is a port of that network's bridge.
  const links: { netns: string; net: "mgmt" | "be"; inner: string; outer: string; addresses: string[] }[] =
    [];
  let n = 0;
  const link = (netns: string, net: "mgmt" | "be", inner: string, addresses: string[]) => {
    const outer = `${p}v${n++}`;
    links.push({ netns, net, inner, outer, addresses });
    return outer;
  };
  link(fleet.nats.netns, "mgmt", "mgmt0", [`${fleet.nats.address}/24`]);
  for (const site of fleet.sites) {
    link(site.netns, "mgmt", "mgmt0", [`${site.mgmtAddress}/24`]);
    site.beOuter = link(site.netns, "be", "be0", [`${site.beAddress}/24`]);
  }
  link(fleet.director.netns, "mgmt", "mgmt0", [`${fleet.director.mgmtAddress}/24`]);
  link(fleet.director.netns, "be", "be0", [`${fleet.director.beAddress}/24`]);
  link(
    fleet.backends.netns,
    "be",
    "be0",
    fleet.backends.addresses.map((a) => `${a}/24`),
  );
  link(fleet.client.netns, "mgmt", "mgmt0", [`${fleet.client.address}/24`]);

  const root = [
    ...namespaces.map((ns) => `netns add ${ns}`),
    `link add ${p}-mgmt type bridge`,
    `link add ${p}-be type bridge`,
    `addr add ${fleet.mgmtHost}/24 dev ${p}-mgmt`,
    `link set ${p}-mgmt up`,
    `link set ${p}-be up`,
  ];
  for (const l of links) {
    root.push(
      `link add ${l.outer} type veth peer name ${l.inner} netns ${l.netns}`,
      `link set ${l.outer} master ${p}-${l.net}`,
      `link set ${l.outer} up`,
    );
  }
  ipBatch(root);
  for (const ns of namespaces) {
    const inside = ["link set lo up"];
    for (const l of links.filter((x) => x.netns === ns)) {
      for (const a of l.addresses) inside.push(`addr add ${a} dev ${l.inner}`);
      inside.push(`link set ${l.inner} up`);
    }
    if (ns === fleet.director.netns) {
      inside.push("link add vip0 type dummy", `addr add ${options.vip}/32 dev vip0`, "link set vip0 up");
    }
    if (ns === fleet.backends.netns) inside.push(`route add default via ${fleet.director.beAddress}`);
    if (ns === fleet.client.netns) inside.push(`route add default via ${fleet.director.mgmtAddress}`);
    ipBatch(inside, ns);
  }
  execFileSync(
    "ip",
    ["netns", "exec", fleet.director.netns, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"],
    { timeout: 10_000 },
  );
  return fleet;
}

/**
 * Cuts (or restores) a site's path to the backends: its port leaves the backends' bridge, so its packets go
 * nowhere (no error, no answer: checks time out, as across a real partition). It keeps reaching NATS.
 */
export function setSiteBackendLink(fleet: Fleet, siteId: string, connected: boolean): void {
  const site = fleet.sites.find((s) => s.id === siteId);
  if (!site) throw new Error(`no site ${siteId}`);
  const prefix = fleet.nats.netns.replace(/-nats$/, "");
  ipBatch([connected ? `link set ${site.beOuter} master ${prefix}-be` : `link set ${site.beOuter} nomaster`]);
}

/**
 * A process parked in a namespace so that `/proc/<pid>/net/ip_vs` shows that namespace's IPVS table
 * without a process start per read (`/proc/net` is per namespace of the process it belongs to).
 */
export function parkInNetns(netns: string): { pid: number; child: ChildProcess; stop(): void } {
  const child = spawn("ip", ["netns", "exec", netns, "sleep", "100000"], { stdio: "ignore" });
  if (child.pid === undefined) throw new Error(`could not park a process in ${netns}`);
  return {
    pid: child.pid,
    child,
    stop: () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

/** Same table, stable text: for "did it change at all" comparisons. */
export function tableText(rows: Record<string, number>): string {
  return Object.entries(rows)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([rs, w]) => `${rs}=${w}`)
    .join(",");
}

/**
 * Adds a second director host to a built fleet (e.g. the standby of a director pair): its own namespace and
 * IPVS table, a link to the management network (it reaches NATS) and one to the backends' network. No VIP
 * and no route from the client: the VIP stays on the fleet's first director (as if VRRP held it there).
 * The namespace is `<prefix>-<name>`; `name` is a short token (it also names the links, 15 characters max).
 */
export function addDirectorHost(
  fleet: Fleet,
  name: string,
  mgmtAddress: string,
  beAddress: string,
): Fleet["director"] {
  const p = fleet.nats.netns.replace(/-nats$/, "");
  const host = { netns: `${p}-${name}`, mgmtAddress, beAddress };
  const root = [`netns add ${host.netns}`];
  const inside = ["link set lo up"];
  for (const [net, address] of [
    ["mgmt", mgmtAddress],
    ["be", beAddress],
  ] as const) {
    const outer = `${p}${name}${net[0]}`;
    const inner = `${net}0`;
    root.push(
      `link add ${outer} type veth peer name ${inner} netns ${host.netns}`,
      `link set ${outer} master ${p}-${net}`,
      `link set ${outer} up`,
    );
    inside.push(`addr add ${address}/24 dev ${inner}`, `link set ${inner} up`);
  }
  ipBatch(root);
  ipBatch(inside, host.netns);
  return host;
}
