import { z } from "zod";

/** A parsed `ip:port` endpoint. `host` is canonical (IPv6 compressed, lower-case, no brackets). */
export type Endpoint = { family: "inet" | "inet6"; host: string; port: number };

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

/** Canonical IPv6 text (as the kernel and `ipvsadm -n` print it), or undefined if `text` is not IPv6. */
export function canonicalIPv6(text: string): string | undefined {
  if (!text.includes(":") || !/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  try {
    // WHATWG URL parsing implements RFC 5952 canonical form without any I/O.
    const host = new URL(`http://[${text}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return undefined;
  }
}

/** Parses `192.0.2.1:80` or `[2001:db8::1]:80`. Returns an error text instead of throwing. */
export function parseEndpoint(text: string): Endpoint | { error: string } {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return { error: "an IPv6 endpoint is written [addr]:port" };
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    const v6 = canonicalIPv6(host);
    if (v6 === undefined) return { error: `"${host}" is not an IPv6 address` };
    const port = parsePort(portText);
    if (typeof port === "string") return { error: port };
    return { family: "inet6", host: v6, port };
  }
  const colon = text.lastIndexOf(":");
  if (colon < 0) return { error: "the :port is missing" };
  host = text.slice(0, colon);
  portText = text.slice(colon + 1);
  if (host.includes(":")) return { error: "an IPv6 endpoint must be bracketed: [addr]:port" };
  if (!isIPv4(host)) return { error: `"${host}" is not an IPv4 address (host names are not resolved)` };
  const port = parsePort(portText);
  if (typeof port === "string") return { error: port };
  return { family: "inet", host, port };
}

function parsePort(text: string): number | string {
  if (!/^\d{1,5}$/.test(text)) return `"${text}" is not a port number`;
  const port = Number(text);
  if (port < 1 || port > 65535) return `port ${port} is outside 1-65535`;
  return port;
}

export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.family === "inet6"
    ? `[${endpoint.host}]:${endpoint.port}`
    : `${endpoint.host}:${endpoint.port}`;
}

/** Normalises an endpoint text to its canonical spelling, or returns undefined. */
export function canonicalEndpoint(text: string): string | undefined {
  const parsed = parseEndpoint(text);
  return "error" in parsed ? undefined : formatEndpoint(parsed);
}

/** zod type for an `ip:port` string; the output is the canonical spelling. */
export const EndpointText = z.string().transform((text, ctx) => {
  const parsed = parseEndpoint(text);
  if ("error" in parsed) {
    ctx.addIssue({ code: "custom", message: `expected ip:port, ${parsed.error} (got "${text}")` });
    return z.NEVER;
  }
  return formatEndpoint(parsed);
});

/**
 * A real server as written in a config: `ip:port`, or without a port (`198.51.100.31`, `2001:db8::5`,
 * `[2001:db8::5]`), or with port 0. IPVS lets a fwmark service's real servers have no port: they take the
 * packet's own (`ipvsadm -a -f 7 -r 198.51.100.31`, shown as `198.51.100.31:0`). Returns the canonical
 * `ip:port` (`ip:0` for port 0) and whether a port was written at all.
 */
export function parseRealServerAddress(
  text: string,
): (Endpoint & { portWritten: boolean }) | { error: string } {
  const bare = canonicalIPv6(text);
  if (bare !== undefined) return { family: "inet6", host: bare, port: 0, portWritten: false };
  if (isIPv4(text)) return { family: "inet", host: text, port: 0, portWritten: false };
  if (text.startsWith("[") && text.endsWith("]")) {
    const v6 = canonicalIPv6(text.slice(1, -1));
    if (v6 === undefined) return { error: `"${text.slice(1, -1)}" is not an IPv6 address` };
    return { family: "inet6", host: v6, port: 0, portWritten: false };
  }
  if (/:0$/.test(text)) {
    const parsed = parseEndpoint(`${text.slice(0, -2)}:1`);
    if ("error" in parsed) return parsed;
    return { ...parsed, port: 0, portWritten: true };
  }
  const parsed = parseEndpoint(text);
  return "error" in parsed ? parsed : { ...parsed, portWritten: true };
}

/** The canonical spelling of a real server address (`198.51.100.31:0` when it has no port), or undefined. */
export function canonicalRealServer(text: string): string | undefined {
  const parsed = parseRealServerAddress(text);
  return "error" in parsed ? undefined : formatEndpoint(parsed);
}

/**
 * zod type for a real server address. The output is canonical; an address written without a port comes out
 * without one (`198.51.100.31`), so the config can give it the VIP's port or, for fwmark, port 0.
 */
export const RealServerAddressText = z.string().transform((text, ctx) => {
  const parsed = parseRealServerAddress(text);
  if ("error" in parsed) {
    ctx.addIssue({ code: "custom", message: `expected ip:port or ip, ${parsed.error} (got "${text}")` });
    return z.NEVER;
  }
  if (!parsed.portWritten) return parsed.family === "inet6" ? `[${parsed.host}]` : parsed.host;
  return formatEndpoint(parsed);
});
