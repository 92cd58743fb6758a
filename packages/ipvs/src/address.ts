import { canonicalIPv6, isIPv4 } from "@lvsq/protocol";

/**
 * `ip:port` as ipvsadm prints it: IPv6 in brackets, port 0 allowed (real servers of fwmark services).
 * Returns the canonical text and family, or undefined.
 */
export function parseIpvsAddress(text: string): { address: string; family: "inet" | "inet6" } | undefined {
  let host: string;
  let port: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return undefined;
    const v6 = canonicalIPv6(text.slice(1, close));
    if (v6 === undefined) return undefined;
    host = `[${v6}]`;
    port = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0 || !isIPv4(text.slice(0, colon))) return undefined;
    host = text.slice(0, colon);
    port = text.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return undefined;
  return { address: `${host}:${Number(port)}`, family: host.startsWith("[") ? "inet6" : "inet" };
}
