/**
 * Where a check goes: the real server's canonical `ip:port` (port 0: a fwmark service's real server
 * without a port), the service it belongs to, and its configured weight (agent checks scale it). `bind`:
 * the local address and port the connection must leave from (checks through the forwarding path; only
 * tcp, http and https checks honour it).
 */
export type CheckTarget = {
  address: string;
  service: string;
  weight?: number;
  bind?: { address: string; port: number };
};

export type Endpoint = { host: string; port: number; family: 4 | 6 };

/**
 * Splits a canonical endpoint (`192.0.2.1:80`, `[2001:db8::1]:80`), already validated by the config loader,
 * into host and port; `portOverride` is the check's `port`. Returns an error text for anything else, so a
 * malformed target makes the check abstain instead of throwing.
 */
export function splitEndpoint(address: string, portOverride?: number): Endpoint | { error: string } {
  let host: string;
  let portText: string;
  let family: 4 | 6;
  if (address.startsWith("[")) {
    const close = address.indexOf("]");
    if (close < 0 || address[close + 1] !== ":") return { error: `bad target address "${address}"` };
    host = address.slice(1, close);
    portText = address.slice(close + 2);
    family = 6;
  } else {
    const colon = address.lastIndexOf(":");
    if (colon < 0) return { error: `bad target address "${address}"` };
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
    family = 4;
  }
  const port = portOverride ?? Number(portText);
  if (port === 0 && host !== "") {
    return { error: `real server ${address} has no port (fwmark service): set check.port` };
  }
  if (host === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
    return { error: `bad target address "${address}"` };
  }
  return { host, port, family };
}

/** `host:port` for a URL authority or a Host header: IPv6 hosts in brackets. */
export function formatAuthority(endpoint: Endpoint): string {
  return endpoint.family === 6 ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}
