import { resolve } from "node:path";
import { type ImportNote, type ImportResult, quorumFor, type Source, seconds, serviceId } from "./common.js";
import { convertCheck } from "./ldirectord-checks.js";
import {
  GATES,
  type Option,
  parseReal,
  type Real,
  readLdirectord,
  type Virtual,
} from "./ldirectord-syntax.js";

const NOTED_GLOBALS = new Set([
  "autoreload",
  "logfile",
  "callback",
  "fork",
  "supervised",
  "emailalert",
  "emailalertfreq",
  "emailalertstatus",
  "emailalertfrom",
  "smtp",
  "maintenancedir",
  "cleanstop",
  "readdquiescent",
  "checkcount",
]);

/**
 * `lvsq import ldirectord FILE`: ldirectord.cf as a standalone lvsq config. Global settings are the
 * defaults of every virtual; each `virtual=` is a service, its `real=` lines its real servers; checktype,
 * service, request and receive become the check (negotiate http → http with expectBody, connect → tcp,
 * ping → icmp, external → exec with ldirectord's four arguments); quiescent (default yes) onDown: quiesce;
 * failurecount fall; fallback the fallback.
 */
export function importLdirectord(path: string): ImportResult {
  const file = resolve(path);
  const { globals, virtuals } = readLdirectord(file);
  const notes: ImportNote[] = [];
  for (const g of globals) {
    if (g.key === "?") notes.push({ service: undefined, at: g.at, text: `not understood: ${g.value}` });
    else if (NOTED_GLOBALS.has(g.key))
      notes.push({
        service: undefined,
        at: g.at,
        text: `${g.key}: no equivalent (lvsq reloads on SIGHUP, logs to stdout, alerts through hooks and metrics)`,
      });
  }
  const taken = new Set<string>();
  const services: Record<string, unknown> = {};
  for (const virtual of virtuals) {
    const fwmark = /^\d+$/.test(virtual.target) ? Number(virtual.target) : undefined;
    const options = new Map<string, Option>();
    for (const o of [...globals, ...virtual.options]) if (o.key !== "real") options.set(o.key, o);
    const protocol =
      options.get("protocol")?.value ??
      (fwmark !== undefined ? "fwm" : virtual.target.endsWith(":53") ? "udp" : "tcp");
    const id = serviceId(taken, fwmark !== undefined ? `fwmark-${fwmark}` : `${protocol}-${virtual.target}`);
    const note = (at: Source, text: string) => notes.push({ service: id, at, text });
    services[id] = convertVirtual(virtual, fwmark, protocol, options, note);
  }
  return { config: { cluster: "imported", quorum: quorumFor(services), services }, notes, files: [file] };
}

function convertVirtual(
  virtual: Virtual,
  fwmark: number | undefined,
  protocol: string,
  options: Map<string, Option>,
  note: (at: Source, text: string) => void,
): Record<string, unknown> {
  const get = (key: string) => options.get(key)?.value.replace(/^"(.*)"$/, "$1");
  const out: Record<string, unknown> = fwmark !== undefined ? { fwmark } : { vip: virtual.target };
  if (protocol === "udp") out.protocol = "udp";
  out.scheduler = get("scheduler") ?? "wrr";
  const reals = virtual.options.filter((o) => o.key === "real");
  const parsed = reals.flatMap((o) => parseReal(o, note));
  out.forwarding = parsed[0]?.forwarding ?? "dr";
  const persistent = get("persistent");
  if (persistent) out.persistence = seconds(Number(persistent));
  const netmask = get("netmask");
  if (netmask && persistent) out.persistenceNetmask = netmask;
  if ((get("quiescent") ?? "yes") === "yes") out.onDown = "quiesce";
  const fallback = get("fallback");
  if (fallback) {
    const [address, gate] = fallback.split(/\s+/);
    out.fallback = [
      {
        address: address!,
        ...(gate && GATES[gate] && GATES[gate] !== out.forwarding ? { forwarding: GATES[gate] } : {}),
      },
    ];
  }
  for (const key of [
    "fallbackcommand",
    "login",
    "passwd",
    "database",
    "secret",
    "monitorfile",
    "emailalert",
    "servicename",
    "comment",
    "cleanstop",
  ]) {
    const o = options.get(key);
    if (o && virtual.options.includes(o)) note(o.at, `${key}: no equivalent`);
  }
  // ldirectord (and the kernel) keep a gate/ipip real server at the virtual service's port.
  const vipPort =
    fwmark === undefined ? virtual.target.slice(virtual.target.lastIndexOf(":") + 1) : undefined;
  const kernelAddress = (rs: Real): string => {
    if (rs.forwarding === "nat" || vipPort === undefined) return rs.address;
    const host =
      rs.address.endsWith("]") || !/:\d+$/.test(rs.address) ? rs.address : rs.address.replace(/:\d+$/, "");
    if (host !== rs.address && !rs.address.endsWith(`:${vipPort}`)) {
      note(virtual.at, `${rs.address}: with gate or ipip the kernel uses the virtual's port, ${vipPort}`);
    }
    return `${host}:${vipPort}`;
  };
  out.realServers = parsed.map((rs) => {
    const entry: Record<string, unknown> = { address: kernelAddress(rs), weight: rs.weight };
    if (rs.forwarding !== out.forwarding) entry.forwarding = rs.forwarding;
    if (rs.lower !== undefined) entry.lowerThreshold = rs.lower;
    if (rs.upper !== undefined) entry.upperThreshold = rs.upper;
    return entry;
  });
  const port = fwmark === undefined ? Number(virtual.target.split(":").at(-1)) : undefined;
  out.check = convertCheck(virtual, port, protocol, get, options, parsed, note);
  return out;
}
