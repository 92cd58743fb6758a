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
