import { endpoint, seconds, splitCommand } from "./common.js";
import { CHECKERS, convertChecker, type Timing, timingOf } from "./keepalived-checks.js";
import { find, findAll, type Statement } from "./keepalived-syntax.js";

/** One VIP (or mark) a virtual_server (or each member of its group) stands for. */
export type Vip = { vip?: string; fwmark?: number; family?: "inet6"; fromGroup?: boolean };

const FORWARDING: Record<string, string> = { NAT: "nat", DR: "dr", TUN: "tunnel" };
/** keepalived's defaults: delay_loop 60 s, connect_timeout 5 s, retry 1. */
const DEFAULT_TIMING: Timing = { delayLoop: 60, connectTimeout: 5, retry: 1 };

/** The virtual server's protocol in lower case; keepalived's default is TCP. */
export function protocolOf(vs: Statement): string {
  return (find(vs.block, "protocol")?.args[0] ?? "TCP").toLowerCase();
}

/**
 * One virtual_server (or one member of its group) as an lvsq service: scheduler, forwarding, persistence,
 * inhibit_on_failure, sorry_server, quorum, hooks, real servers and the one check. Undefined (with a note)
 * when it has no real servers.
 */
export function convertVirtualServer(vs: Statement, vip: Vip, note: (at: Statement, text: string) => void) {
  const block = vs.block;
  const out: Record<string, unknown> = {};
  if (vip.fwmark !== undefined) {
    out.fwmark = vip.fwmark;
    const family = vip.family ?? find(block, "ip_family")?.args[0];
    if (family === "inet6") out.family = "inet6";
  } else out.vip = vip.vip;
  const protocol = protocolOf(vs);
  if (protocol !== "tcp") out.protocol = protocol;
  out.scheduler = find(block, "lvs_sched", "lb_algo")?.args[0] ?? "wlc";
  const method = find(block, "lvs_method", "lb_kind");
  out.forwarding = FORWARDING[(method?.args[0] ?? "NAT").toUpperCase()] ?? "nat";
  if (method && method.args.length > 1)
    note(method, `lvs_method ${method.args.join(" ")}: tunnel types are not configurable in lvsq (ipip)`);
  const persistence = find(block, "persistence_timeout");
  if (persistence) out.persistence = seconds(Number(persistence.args[0] ?? 360));
  const granularity = find(block, "persistence_granularity")?.args[0];
  if (granularity) out.persistenceNetmask = granularity;
  const flags = schedFlags(block, String(out.scheduler), note);
  if (flags.length > 0) out.schedFlags = flags;
  for (const s of findAll(
    block,
    "ops",
    "persistence_engine",
    "ha_suspend",
    "alpha",
    "omega",
    "smtp_alert",
    "snmp_name",
    "sorry_server_inhibit",
    "warmup",
  )) {
    note(s, explainIgnored(s.keyword));
  }
  const virtualhost = find(block, "virtualhost")?.args[0];
  const vsTiming = timingOf(block, DEFAULT_TIMING);
  const realServers = findAll(block, "real_server");
  const inhibitAll = find(block, "inhibit_on_failure") !== undefined;
  const inhibited = realServers.filter((rs) => inhibitAll || find(rs.block, "inhibit_on_failure"));
  if (inhibited.length > 0) {
    out.onDown = "quiesce";
    if (inhibited.length < realServers.length)
      note(
        inhibited[0]!,
        "inhibit_on_failure on some real servers only: lvsq's onDown is per service, so all are quiesced",
      );
  }
  const sorry = find(block, "sorry_server");
  if (sorry) {
    const method = find(block, "sorry_server_lvs_method")?.args[0];
    const forwarding = method ? FORWARDING[method.toUpperCase()] : undefined;
    out.fallback = [
      {
        address: endpoint(sorry.args[0] ?? "", portOf(sorry.args[1])),
        ...(forwarding ? { forwarding } : {}),
      },
    ];
  }
  const quorum = find(block, "quorum");
  const hysteresis = find(block, "hysteresis");
  const quorumUp = find(block, "quorum_up");
  const quorumDown = find(block, "quorum_down");
  if (quorum || hysteresis || quorumUp || quorumDown) {
    out.weightQuorum = { quorum: Number(quorum?.args[0] ?? 1), hysteresis: Number(hysteresis?.args[0] ?? 0) };
  }
  const notify: Record<string, string[]> = {};
  if (quorumUp) notify.quorumUp = hookOf(quorumUp, note);
  if (quorumDown) notify.quorumDown = hookOf(quorumDown, note);
  if (Object.keys(notify).length > 0) out.notify = notify;
  let check: Record<string, unknown> | undefined;
  let checkSource = "";
  out.realServers = realServers.map((rs) => {
    const entry: Record<string, unknown> = { address: endpoint(rs.args[0] ?? "", portOf(rs.args[1])) };
    const weight = find(rs.block, "weight")?.args[0];
    entry.weight = weight === undefined ? 1 : Number(weight);
    const rsMethod = find(rs.block, "lvs_method")?.args[0];
    if (rsMethod && FORWARDING[rsMethod.toUpperCase()] !== out.forwarding)
      entry.forwarding = FORWARDING[rsMethod.toUpperCase()];
    const upper = find(rs.block, "uthreshold")?.args[0];
    const lower = find(rs.block, "lthreshold")?.args[0];
    if (upper !== undefined) entry.upperThreshold = Number(upper);
    if (lower !== undefined) entry.lowerThreshold = Number(lower);
    const up = find(rs.block, "notify_up");
    const down = find(rs.block, "notify_down");
    if (up || down)
      entry.notify = {
        ...(up ? { up: hookOf(up, note) } : {}),
        ...(down ? { down: hookOf(down, note) } : {}),
      };
    const checkers = (rs.block ?? []).filter((s) => (CHECKERS as readonly string[]).includes(s.keyword));
    const rsTiming = timingOf(rs.block, vsTiming);
    const rsHost = find(rs.block, "virtualhost")?.args[0] ?? virtualhost;
    checkers.forEach((checker, i) => {
      const converted = convertChecker(checker, rsTiming, note, rsHost);
      if (!converted) {
        note(checker, `${checker.keyword} has no equivalent check; dropped`);
        return;
      }
      if (check === undefined) {
        check = converted;
        checkSource = `${checker.keyword} of ${entry.address}`;
      } else if (i > 0) {
        note(
          checker,
          `${checker.keyword} on ${entry.address}: lvsq runs one check per service (${checkSource}); this one is dropped`,
        );
      } else if (JSON.stringify(converted) !== JSON.stringify(check)) {
        note(
          checker,
          `${checker.keyword} on ${entry.address} differs from ${checkSource}: lvsq runs one check per service, the first one`,
        );
      }
    });
    return entry;
  });
  if (realServers.length === 0) {
    note(vs, "a virtual server without real servers: lvsq needs at least one; skipped");
    return undefined;
  }
  if (check) kernelPorts(out, vip, check, () => note(vs, KERNEL_PORT_NOTE));
  // keepalived keeps a real server without a checker up; lvsq always checks, so it checks "true".
  out.check = check ?? {
    type: "exec",
    command: ["true"],
    interval: seconds(vsTiming.delayLoop),
    timeout: seconds(Math.min(vsTiming.connectTimeout, vsTiming.delayLoop / 2)),
    rise: 1,
    fall: 1,
  };
  if (!check)
    note(vs, "no checker: keepalived keeps such real servers up; lvsq checks them with exec [true]");
  if (
    vip.fwmark !== undefined &&
    out.realServers &&
    (out.check as { port?: number; type: string }).port === undefined
  ) {
    const portless = (out.realServers as { address: string }[]).some(
      (rs) => !/:\d+$/.test(rs.address) || rs.address.endsWith(":0"),
    );
    if (portless && !["icmp", "exec"].includes((out.check as { type: string }).type)) {
      note(vs, "real servers without a port and a check without connect_port: set check.port");
    }
  }
  return out;
}

const KERNEL_PORT_NOTE =
  "with DR or TUN the kernel sends to the VIP's port (none for fwmark), whatever port a real server is given: the addresses here are the ones keepalived's table shows";

/**
 * With DR and TUN the kernel keeps a real server at the virtual service's port (0 for fwmark), whatever
 * port it is added with, so the addresses are written as the kernel will show them. keepalived checks the
 * port it was given where the virtual server had none to rewrite it to (fwmark, groups): that becomes the
 * check's port.
 */
function kernelPorts(
  out: Record<string, unknown>,
  vip: Vip,
  check: Record<string, unknown>,
  noteOnce: () => void,
): void {
  const vipPort = vip.vip === undefined ? undefined : Number(vip.vip.slice(vip.vip.lastIndexOf(":") + 1));
  let noted = false;
  for (const list of ["realServers", "fallback"] as const) {
    for (const entry of (out[list] as Record<string, unknown>[] | undefined) ?? []) {
      if ((entry.forwarding ?? out.forwarding) === "nat") continue;
      const address = String(entry.address);
      const match = /^(.*):(\d+)$/.exec(address);
      const host = match && !address.endsWith("]") ? match[1]! : address;
      const port = match && !address.endsWith("]") ? Number(match[2]) : undefined;
      if (port === vipPort) continue;
      entry.address = endpoint(host.replace(/^\[|\]$/g, ""), vipPort);
      const keptCheckPort = vip.fwmark !== undefined || vip.fromGroup === true;
      if (list === "realServers" && keptCheckPort && port !== undefined && check.port === undefined) {
        if (check.type !== "icmp" && check.type !== "exec") check.port = port;
      }
      if (!noted && port !== undefined) {
        noted = true;
        noteOnce();
      }
    }
  }
}

function portOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  // keepalived writes `real_server 192.0.2.1 0` for "no port" (fwmark services).
  return port === 0 ? undefined : port;
}

function hookOf(statement: Statement, note: (at: Statement, text: string) => void): string[] {
  const [script, ...rest] = statement.args;
  if (rest.length > 0)
    note(
      statement,
      `${statement.keyword}: the user/group (${rest.join(" ")}) is not carried over; hooks run as the director's user`,
    );
  return splitCommand(script ?? "true");
}

function schedFlags(
  block: Statement[] | undefined,
  scheduler: string,
  note: (at: Statement, text: string) => void,
): string[] {
  const flags: string[] = [];
  for (const s of block ?? []) {
    const named = /^(sh|mh)-(port|fallback)$/.exec(s.keyword);
    if (named) flags.push(s.keyword);
    else if (s.keyword === "flag-1" || s.keyword === "flag-2") {
      if (scheduler === "sh" || scheduler === "mh")
        flags.push(`${scheduler}-${s.keyword === "flag-1" ? "fallback" : "port"}`);
      else note(s, `${s.keyword} with scheduler ${scheduler}: no equivalent`);
    } else if (s.keyword === "flag-3") note(s, "flag-3: no equivalent");
  }
  return flags;
}

function explainIgnored(keyword: string): string {
  switch (keyword) {
    case "alpha":
      return "alpha: lvsq starts from the kernel table; with an empty one every real server is out until it passes its checks, as with alpha";
    case "omega":
      return "omega: lvsq runs no hooks when it stops (it leaves the table as it is)";
    case "ops":
      return "ops (one-packet scheduling) is not configurable in lvsq";
    case "ha_suspend":
      return "ha_suspend: lvsq checks whether or not the VIP is on this node";
    default:
      return `${keyword} has no equivalent`;
  }
}
