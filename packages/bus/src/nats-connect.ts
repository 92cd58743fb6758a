import { access, constants } from "node:fs/promises";
import { LvsqError } from "@lvsq/protocol";
import type { NodeConnectionOptions } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { NatsBus } from "./nats-bus.js";
import { readCredentialsFile } from "./nats-credentials.js";
import type { Bus } from "./types.js";

/** How long nats.js gives one server to answer while dialing. */
export const CONNECT_TIMEOUT_MS = 2_000;

/**
 * A first-connect wait that lets the dial try every server once: a one-shot command whose first pick is a
 * hung node (accepts TCP, never answers: a paused process, a dead path) must go on to the next one before it
 * says NATS cannot be reached.
 */
export function everyServerOnceMs(servers: readonly string[] | string): number {
  const count = Array.isArray(servers) ? servers.length : String(servers).split(",").length;
  return Math.max(1, count) * CONNECT_TIMEOUT_MS + 1_000;
}

export type NatsBusOptions = {
  servers: string[] | string;
  /** Client name shown by the server (e.g. `probe-dc1`). */
  name: string;
  logger: Logger;
  /** Path to a NATS `.creds` file (JWT + nkey seed) or an nkey seed file (see readCredentialsFile). */
  creds?: string;
  /** How errors name the creds file, e.g. `nats.creds (/etc/lvsq/nats/p1.nk)`; default the path. */
  credsLabel?: string;
  /**
   * Config-file user (nats-server 2.9 `authorization.users`). A server URL may carry it instead:
   * `nats://probe-dc1:secret@10.0.0.1:4222` (taken out of the URL before dialing).
   */
  user?: string;
  pass?: string;
  /** PEM file paths; any of them turns TLS on. */
  tls?: { ca?: string; cert?: string; key?: string };
  /**
   * How long `connectNatsBus` waits for the first connection before resolving with a bus that is still
   * connecting in the background (default 2000 ms; 0 = do not wait). Agents must start while NATS is down.
   */
  firstConnectWaitMs?: number;
  /** Deadline of each KV operation (default 2000 ms). */
  kvTimeoutMs?: number;
  /**
   * Replicas of the KV buckets this bus creates (JetStream `num_replicas`, 1-5). Default: 3 when the cluster
   * has at least 3 nodes (counted from `servers` and the members the server announces), else 1.
   */
  replicas?: number;
};

/**
 * Connects to NATS and resolves once connected, or after `firstConnectWaitMs` with a bus still dialing in
 * the background (isConnected() false; publishes dropped; KV and requests fail with `bus_unavailable`;
 * subscriptions registered now are attached when the connection comes). It never rejects for an
 * unreachable server; it rejects only for local mistakes (an unreadable or malformed creds file, an
 * unreadable TLS file), with an LvsqError "config_invalid" that names the file.
 */
export async function connectNatsBus(options: NatsBusOptions): Promise<Bus> {
  const { servers, user, pass } = splitCredentials(options.servers);
  const connectionOptions: NodeConnectionOptions = {
    servers,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    reconnectJitter: 1_000,
    reconnectJitterTLS: 1_000,
    pingInterval: 2_000,
    timeout: CONNECT_TIMEOUT_MS,
  };
  const login = options.user ?? user;
  if (login !== undefined) {
    connectionOptions.user = login;
    connectionOptions.pass = options.pass ?? pass ?? "";
  }
  if (options.creds) {
    const file = await readCredentialsFile(options.creds, options.credsLabel ?? options.creds);
    if (file.worldReadable) {
      options.logger.warn(
        { file: options.creds },
        "bus: the NATS credentials file is readable by every local user; chmod 0600 (or 0640 root:lvsq)",
      );
    }
    connectionOptions.authenticator = file.authenticator;
  }
  if (options.tls) {
    const { ca, cert, key } = options.tls;
    // nats.js reads these only while dialing and would retry a missing file forever: fail now, clearly.
    for (const [field, path] of [
      ["ca", ca],
      ["cert", cert],
      ["key", key],
    ] as const) {
      if (path === undefined) continue;
      await access(path, constants.R_OK).catch((cause: NodeJS.ErrnoException) => {
        throw new LvsqError(
          "config_invalid",
          `nats.tls.${field} ${path}: cannot read it: ${cause.code ?? cause}`,
          {
            cause,
          },
        );
      });
    }
    connectionOptions.tls = {
      ...(ca ? { caFile: ca } : {}),
      ...(cert ? { certFile: cert } : {}),
      ...(key ? { keyFile: key } : {}),
    };
  }
  const bus = new NatsBus(options, connectionOptions);
  await bus.waitFirstConnect(options.firstConnectWaitMs ?? 2_000);
  return bus;
}

/** Takes `user:pass@` out of server URLs (the client does not read it from there). */
export function splitCredentials(input: string[] | string): {
  servers: string[];
  user?: string;
  pass?: string;
} {
  let user: string | undefined;
  let pass: string | undefined;
  const servers = (Array.isArray(input) ? input : input.split(",")).map((raw) => {
    const match = /^([a-z]+:\/\/)([^@/]*)@(.*)$/i.exec(raw.trim());
    if (!match) return raw.trim();
    const [, scheme, credentials, rest] = match;
    const colon = credentials!.indexOf(":");
    user = decodeURIComponent(colon < 0 ? credentials! : credentials!.slice(0, colon));
    pass = colon < 0 ? undefined : decodeURIComponent(credentials!.slice(colon + 1));
    return `${scheme}${rest}`;
  });
  return { servers, ...(user !== undefined ? { user } : {}), ...(pass !== undefined ? { pass } : {}) };
}
