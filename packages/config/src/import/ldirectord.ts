import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { endpoint, type ImportNote, type ImportResult, type Source, seconds, serviceId } from "./common.js";
import { quorumFor } from "./keepalived.js";

type Option = { key: string; value: string; at: Source };
type Virtual = { target: string; at: Source; options: Option[] };

const GATES: Record<string, string> = { gate: "dr", masq: "nat", ipip: "tunnel" };
/** ldirectord's default `service` by virtual port. */
const SERVICE_BY_PORT: Record<number, string> = {
  21: "ftp",
  25: "smtp",
  53: "dns",
  80: "http",
  110: "pop",
  119: "nntp",
  143: "imap",
  389: "ldap",
  443: "https",
  587: "submission",
  636: "ldaps",
  993: "imaps",
  995: "pops",
  1521: "oracle",
  1812: "radius",
  3128: "http_proxy",
  3306: "mysql",
  5432: "pgsql",
  5060: "sip",
};
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
  const globals: Option[] = [];
  const virtuals: Virtual[] = [];
  readFileSync(file, "utf8")
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const at = { file, line: i + 1 };
      const text = raw.replace(/(^|\s)#.*$/, "").trimEnd();
      if (text.trim() === "") return;
      const match = /^(\s*)([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(text);
      if (!match) {
        globals.push({ key: "?", value: text.trim(), at });
        return;
      }
      const option = { key: match[2]!.toLowerCase(), value: match[3]!.trim(), at };
      if (option.key === "virtual" || option.key === "virtual6")
        virtuals.push({ target: option.value, at, options: [] });
      else if (match[1] !== "" && virtuals.length > 0) virtuals.at(-1)!.options.push(option);
      else globals.push(option);
    });
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

type Real = {
  address: string;
  forwarding: string;
  weight: number;
  request?: string;
  receive?: string;
  lower?: number;
  upper?: number;
};

/** `real=ip[:port][->ip2] gate|masq|ipip [weight] ["request", "receive"] [l:N] [u:N]`. */
function parseReal(option: Option, note: (at: Source, text: string) => void): Real[] {
  const quoted = [...option.value.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  const words = option.value
    .replace(/"[^"]*"/g, " ")
    .split(/[\s,]+/)
    .filter(Boolean);
  const [target, gate, ...rest] = words;
  const forwarding = GATES[gate ?? "gate"] ?? "dr";
  let weight = 1;
  let lower: number | undefined;
  let upper: number | undefined;
  for (const word of rest) {
    if (/^\d+$/.test(word)) weight = Number(word);
    else if (/^l:\d+$/.test(word)) lower = Number(word.slice(2));
    else if (/^u:\d+$/.test(word)) upper = Number(word.slice(2));
  }
  const range = /^(\d+\.\d+\.\d+\.)(\d+)->(\d+\.\d+\.\d+\.)(\d+)(:\d+)?$/.exec(target ?? "");
  const extra = {
    forwarding,
    weight,
    ...(lower !== undefined ? { lower } : {}),
    ...(upper !== undefined ? { upper } : {}),
  };
  const check = {
    ...(quoted[0] !== undefined ? { request: quoted[0] } : {}),
    ...(quoted[1] !== undefined ? { receive: quoted[1] } : {}),
  };
  if (range && range[1] === range[3]) {
    const from = Number(range[2]);
    const to = Number(range[4]);
    return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => ({
      address: `${range[1]}${from + i}${range[5] ?? ""}`,
      ...extra,
      ...check,
    }));
  }
  if (!target || /[a-z]/i.test(target.split(":")[0]!.replace(/\[.*\]/, ""))) {
    note(option.at, `real=${option.value}: host names are not resolved by lvsq; write the address`);
    return [];
  }
  return [
    {
      address: target.startsWith("[") || !target.includes("::") ? target : endpoint(target, undefined),
      ...extra,
      ...check,
    },
  ];
}

function convertCheck(
  virtual: Virtual,
  port: number | undefined,
  protocol: string,
  get: (key: string) => string | undefined,
  options: Map<string, Option>,
  reals: Real[],
  note: (at: Source, text: string) => void,
): Record<string, unknown> {
  const at = options.get("checktype")?.at ?? virtual.at;
  const type = get("checktype") ?? "negotiate";
  const service = get("service") ?? (port !== undefined ? SERVICE_BY_PORT[port] : undefined) ?? "none";
  const interval = Number(get("checkinterval") ?? 10);
  const negotiate = type === "negotiate" || /^\d+$/.test(type);
  let timeout = Number(
    negotiate
      ? (get("negotiatetimeout") ?? get("checktimeout") ?? 30)
      : (get("checktimeout") ?? get("negotiatetimeout") ?? 5),
  );
  if (timeout >= interval) {
    note(
      at,
      `timeout ${timeout}s is not shorter than checkinterval ${interval}s; lvsq needs it shorter: set to ${interval / 2}s`,
    );
    timeout = interval / 2;
  }
  const base: Record<string, unknown> = {
    interval: seconds(interval),
    timeout: seconds(timeout),
    rise: 1,
    fall: Number(get("failurecount") ?? 1),
  };
  const checkport = get("checkport");
  if (checkport) base.port = Number(checkport);
  const request = reals[0]?.request ?? get("request");
  const receive = reals[0]?.receive ?? get("receive");
  if (reals.some((r) => r.request !== reals[0]?.request || r.receive !== reals[0]?.receive)) {
    note(
      at,
      "per-real-server request/receive differ: lvsq runs one check per service (the first real server's)",
    );
  }
  if (/^\d+$/.test(type))
    note(at, `checktype ${type} (connect, with a negotiate every ${type}): always negotiates here`);
  if (type === "on") return { type: "exec", ...base, command: ["true"] };
  if (type === "off") {
    note(at, "checktype off keeps every real server out; lvsq checks them with exec [false]");
    return { type: "exec", ...base, command: ["false"] };
  }
  if (type === "ping" || (type === "connect" && protocol === "udp")) {
    delete base.port;
    return { type: "icmp", ...base };
  }
  if (type === "connect") return { type: "tcp", ...base };
  if (type === "external" || type === "external-perl") {
    const command = get("checkcommand") ?? "/bin/true";
    const [vip, vport] =
      port !== undefined
        ? [virtual.target.replace(/:\d+$/, "").replace(/^\[|\]$/g, ""), String(port)]
        : [virtual.target, "0"];
    // ldirectord passes VIP, VPORT, RIP and RPORT as arguments; lvsq passes the real server in the environment.
    return {
      type: "exec",
      ...base,
      command: ["sh", "-c", `exec ${command} ${vip} ${vport} "$LVSQ_RS_HOST" "$LVSQ_RS_PORT"`],
    };
  }
  const path = request === undefined ? "/" : request.startsWith("/") ? request : `/${request}`;
  switch (service) {
    case "http":
    case "https": {
      const check: Record<string, unknown> = { type: service, ...base, path };
      if (receive) check.expectBody = receive;
      const method = get("httpmethod");
      if (method) check.method = method.toUpperCase();
      const host = get("virtualhost");
      if (host) check.host = host;
      if (service === "https") check.tlsVerify = false;
      return check;
    }
    case "smtp":
    case "submission":
      return { type: "smtp", ...base };
    case "dns":
      if (!request) note(at, "a dns check without request: asking for the root (.) SOA");
      return {
        type: "dns",
        ...base,
        query: request ?? ".",
        queryType: request ? "A" : "SOA",
        ...(receive ? { expectAnswer: receive } : {}),
      };
    case "simpletcp": {
      if (receive && /[\\^$.*+?()[\]{}|]/.test(receive))
        note(
          at,
          `receive "${receive}" is a regular expression in ldirectord; lvsq's tcp expect is a plain substring`,
        );
      return {
        type: "tcp",
        ...base,
        ...(request ? { send: request.replaceAll("\\n", "\n") } : {}),
        ...(receive ? { expect: receive } : {}),
      };
    }
    case "none":
      return { type: "exec", ...base, command: ["true"] };
    default:
      note(
        at,
        `service ${service}: lvsq has no ${service} check; checking that the port accepts connections (tcp)`,
      );
      return { type: "tcp", ...base };
  }
}
