import { type Source, seconds } from "./common.js";
import type { Option, Real, Virtual } from "./ldirectord-syntax.js";

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

/**
 * A virtual's checktype, service, request and receive as one lvsq check: negotiate http(s) → http(s) with
 * expectBody, connect → tcp, ping → icmp, external → exec with ldirectord's four arguments, on/off → exec
 * true/false; a service lvsq has no check for → tcp.
 */
export function convertCheck(
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
