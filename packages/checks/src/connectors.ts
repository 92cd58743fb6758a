import { readFile } from "node:fs/promises";
import type { HttpCheckConfig } from "@lvsq/config";
import { buildConnector } from "undici";
import { errorCode, errorMessage } from "./result.js";

export type Connector = buildConnector.connector;

/**
 * Builds undici connectors once per distinct (protocol, timeout, TLS settings) and reads each CA file once.
 * A shared connector keeps the per-check cost to one `new Client()` (every check still opens its own
 * connection). TLS session resumption is off: every https check does a full handshake, so a certificate
 * that expired or changed fails the very next check.
 */
export class ConnectorCache {
  readonly #connectors = new Map<string, Connector>();
  readonly #caFiles = new Map<string, Buffer>();

  /** A connector for `check`, synchronously when it is cached; `{ error }` when its CA file is unreadable. */
  get(check: HttpCheckConfig): Connector | Promise<Connector | { error: string }> {
    const key = connectorKey(check);
    const cached = this.#connectors.get(key);
    if (cached) return cached;
    if (check.type === "https" && check.ca !== undefined && !this.#caFiles.has(check.ca)) {
      return this.#loadCa(check.ca).then((error) => (error ? { error } : this.#build(key, check)));
    }
    return this.#build(key, check);
  }

  async #loadCa(path: string): Promise<string | undefined> {
    try {
      this.#caFiles.set(path, await readFile(path));
      return undefined;
    } catch (error) {
      // Not cached: a CA file that appears later is picked up by the next check.
      return `CA file ${path}: ${errorCode(error) ?? errorMessage(error)}`;
    }
  }

  #build(key: string, check: HttpCheckConfig): Connector {
    const options: buildConnector.BuildOptions = {
      timeout: check.timeoutMs,
      keepAlive: false,
      maxCachedSessions: 0,
    };
    if (check.type === "https") {
      Object.assign(options, { rejectUnauthorized: check.tlsVerify });
      if (check.sni !== undefined) Object.assign(options, { servername: check.sni });
      if (check.ca !== undefined) Object.assign(options, { ca: this.#caFiles.get(check.ca) });
    }
    const connector = buildConnector(options);
    this.#connectors.set(key, connector);
    return connector;
  }
}

function connectorKey(check: HttpCheckConfig): string {
  if (check.type === "http") return `http ${check.timeoutMs}`;
  return `https ${check.timeoutMs} ${check.tlsVerify} ${check.sni ?? ""} ${check.ca ?? ""}`;
}
