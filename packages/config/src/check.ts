import type { CheckConfig, CheckParsed, CheckType } from "./check-schema.js";

export {
  type AgentCheckConfig,
  type CheckConfig,
  CheckInput,
  type CheckParsed,
  CheckType,
  type DnsCheckConfig,
  type ExecCheckConfig,
  type HttpCheckConfig,
  type IcmpCheckConfig,
  type SmtpCheckConfig,
  type TcpCheckConfig,
  type TlsCheckConfig,
  type TlsSettings,
  type UdpCheckConfig,
} from "./check-schema.js";

const BUILTIN: CheckParsed = {
  type: "http",
  interval: 2000,
  timeout: 1000,
  rise: 2,
  fall: 3,
  path: "/",
  method: "GET",
  expectStatus: ["200-399"],
  tlsVerify: true,
};

const COMMON = new Set(["type", "interval", "timeout", "rise", "fall", "port"]);
const HTTP = ["path", "method", "host", "headers", "expectStatus", "expectBody", "tlsVerify", "sni", "ca"];
const TLS = ["tlsVerify", "sni", "ca", "cert", "key"];
const PAYLOAD = ["send", "sendHex", "expect", "expectHex"];
const FIELDS_BY_TYPE: Record<CheckType, Set<string>> = {
  http: new Set(HTTP),
  https: new Set([...HTTP, "cert", "key"]),
  tcp: new Set(PAYLOAD),
  exec: new Set(["command", "env"]),
  dns: new Set(["query", "queryType", "transport", "expectRcode", "expectAnswer", "recurse"]),
  udp: new Set([...PAYLOAD, "expectRegex", "requireReply"]),
  icmp: new Set(),
  smtp: new Set(["heloName", "starttls", ...TLS]),
  tls: new Set([...TLS, "expiryDown", "expiryWarn"]),
  agent: new Set(["send"]),
};

export type CheckProblem = { field: string; message: string };

/**
 * Merges built-in defaults ← `defaults.check` ← the service's `check`. Type-specific fields are inherited
 * only while the type stays the same, so a tcp service under http defaults does not inherit a `path`. A
 * field that does not apply to the resolved type, written on the service itself, is an error.
 */
export function resolveCheck(
  defaults: CheckParsed | undefined,
  own: CheckParsed | undefined,
): { check: CheckConfig } | { problems: CheckProblem[] } {
  const base = { ...BUILTIN, ...defaults };
  const type = own?.type ?? base.type ?? "http";
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) {
    if (COMMON.has(key) || (base.type === type && FIELDS_BY_TYPE[type].has(key))) merged[key] = value;
  }
  if ((type === "http" || type === "https") && base.type !== type) Object.assign(merged, pickHttp(BUILTIN));
  const problems: CheckProblem[] = [];
  for (const [key, value] of Object.entries(own ?? {})) {
    if (!COMMON.has(key) && !FIELDS_BY_TYPE[type].has(key)) {
      problems.push({ field: key, message: `"${key}" does not apply to a ${type} check` });
      continue;
    }
    merged[key] = value;
  }
  if (type === "icmp") {
    // An echo has no port; one inherited from defaults is dropped, one written here is a mistake.
    if (own?.port !== undefined) problems.push({ field: "port", message: "an icmp check has no port" });
    delete merged.port;
  }
  merged.type = type;
  const m = merged as CheckParsed;
  const timing = {
    intervalMs: m.interval!,
    timeoutMs: m.timeout!,
    rise: m.rise!,
    fall: m.fall!,
    port: m.port,
  };
  if (timing.timeoutMs >= timing.intervalMs) {
    problems.push({
      field: "timeout",
      message: `timeout (${timing.timeoutMs} ms) must be shorter than interval (${timing.intervalMs} ms)`,
    });
  }
  problems.push(...crossFieldProblems(type, m));
  if (problems.length > 0) return { problems };
  return { check: buildCheck(type, timing, m) };
}

function crossFieldProblems(type: CheckType, m: CheckParsed): CheckProblem[] {
  const problems: CheckProblem[] = [];
  const both = (a: keyof CheckParsed, b: keyof CheckParsed) => {
    if (m[a] !== undefined && m[b] !== undefined)
      problems.push({ field: b, message: `set either ${a} or ${b}, not both` });
  };
  both("send", "sendHex");
  both("expect", "expectHex");
  if ((m.cert === undefined) !== (m.key === undefined)) {
    const missing = m.cert === undefined ? "cert" : "key";
    problems.push({ field: missing, message: "a client certificate needs both cert and key (PEM files)" });
  }
  if (type === "exec" && !m.command)
    problems.push({ field: "command", message: "an exec check needs a command" });
  if (type === "dns" && m.query === undefined) {
    problems.push({
      field: "query",
      message: 'a dns check needs a query: a name the server answers, like "www.example.com"',
    });
  }
  if (type === "udp" && m.requireReply === false) {
    for (const field of ["expect", "expectHex", "expectRegex"] as const) {
      if (m[field] !== undefined)
        problems.push({
          field,
          message: `${field} needs a reply; it cannot be combined with requireReply: false`,
        });
    }
  }
  if (type === "smtp" && m.starttls !== true) {
    for (const field of TLS) {
      if (m[field as keyof CheckParsed] !== undefined && field !== "tlsVerify")
        problems.push({ field, message: `${field} applies only with starttls: true` });
    }
  }
  if (m.expiryDown !== undefined && m.expiryWarn !== undefined && m.expiryWarn <= m.expiryDown) {
    problems.push({
      field: "expiryWarn",
      message: "expiryWarn must be longer than expiryDown (warn first, then down)",
    });
  }
  return problems;
}

type Timing = { intervalMs: number; timeoutMs: number; rise: number; fall: number; port: number | undefined };

function tlsOf(m: CheckParsed) {
  return { tlsVerify: m.tlsVerify ?? true, sni: m.sni, ca: m.ca, cert: m.cert, key: m.key };
}

function payloadOf(m: CheckParsed) {
  return { send: m.send, sendHex: m.sendHex, expect: m.expect, expectHex: m.expectHex };
}

function buildCheck(type: CheckType, timing: Timing, m: CheckParsed): CheckConfig {
  switch (type) {
    case "tcp":
      return { type, ...timing, ...payloadOf(m) };
    case "exec":
      return { type, ...timing, command: m.command!, env: m.env ?? {} };
    case "dns":
      return {
        type,
        ...timing,
        query: m.query!,
        queryType: m.queryType ?? "A",
        transport: m.transport ?? "udp",
        expectRcode: m.expectRcode ?? ["NOERROR"],
        expectAnswer: m.expectAnswer,
        // keepalived's DNS_CHECK sets RD too: most balanced DNS servers are resolvers.
        recurse: m.recurse ?? true,
      };
    case "udp":
      return {
        type,
        ...timing,
        ...payloadOf(m),
        expectRegex: m.expectRegex,
        requireReply: m.requireReply ?? true,
      };
    case "icmp":
      return { type, ...timing };
    case "smtp":
      return { type, ...timing, heloName: m.heloName, starttls: m.starttls ?? false, ...tlsOf(m) };
    case "tls":
      return { type, ...timing, ...tlsOf(m), expiryDownMs: m.expiryDown, expiryWarnMs: m.expiryWarn };
    case "agent":
      return { type, ...timing, send: m.send };
    case "http":
    case "https":
      return {
        type,
        ...timing,
        path: m.path ?? "/",
        method: m.method ?? "GET",
        host: m.host,
        headers: m.headers ?? {},
        expectStatus: (m.expectStatus ?? ["200-399"]).map(statusRange),
        expectBody: m.expectBody,
        ...tlsOf(m),
      };
  }
}

function pickHttp(parsed: CheckParsed): CheckParsed {
  return {
    path: parsed.path,
    method: parsed.method,
    expectStatus: parsed.expectStatus,
    tlsVerify: parsed.tlsVerify,
  };
}

function statusRange(item: number | string): [number, number] {
  if (typeof item === "number") return [item, item];
  const [lo, hi] = item.split("-").map(Number);
  return [lo!, hi ?? lo!];
}
