import type { HttpCheckConfig } from "@lvsq/config";
import type * as Undici from "undici";
import { buildConnector } from "./undici-client.js";
import { FileCache } from "./files.js";

export type Connector = Undici.buildConnector.connector;

/**
 * Builds undici connectors once per distinct (protocol, timeout, TLS settings) and reads each CA, client
 * certificate and key file once. A shared connector keeps the per-check cost to one `new Client()` (every
 * check still opens its own connection). TLS session resumption is off: every https check does a full
 * handshake, so a certificate that expired or changed fails the very next check.
 */
export class ConnectorCache {
  readonly #connectors = new Map<string, Connector>();

  constructor(readonly files: FileCache = new FileCache()) {}

  /**
   * A connector for `check`, synchronously when it is cached; `{ error }` when a TLS file is unreadable.
   * `localPort`: connections leave from that source port (undici takes it only as a build option, so each
   * bound port has its own connector; a forwarding probe has a bounded set of them).
   */
  get(check: HttpCheckConfig, localPort?: number): Connector | Promise<Connector | { error: string }> {
    const key = `${connectorKey(check)} ${localPort ?? ""}`;
    const cached = this.#connectors.get(key);
    if (cached) return cached;
    if (check.type === "https")
      return this.#loadFiles(check).then((error) => error ?? this.#build(key, check, localPort));
    return this.#build(key, check, localPort);
  }

  async #loadFiles(check: HttpCheckConfig): Promise<{ error: string } | undefined> {
    const wanted = [
      [check.ca, "CA file"],
      [check.cert, "client certificate"],
      [check.key, "client key"],
    ] as const;
    for (const [path, what] of wanted) {
      if (path === undefined) continue;
      const read = await this.files.read(path, what);
      if ("error" in read) return read;
    }
    return undefined;
  }

  #build(key: string, check: HttpCheckConfig, localPort: number | undefined): Connector {
    const options: Undici.buildConnector.BuildOptions = {
      // A backstop after the check's own deadline (which tells a stalled probe from a slow server).
      timeout: check.timeoutMs * 2,
      keepAlive: false,
      maxCachedSessions: 0,
    };
    if (localPort !== undefined) Object.assign(options, { localPort });
    if (check.type === "https") {
      Object.assign(options, { rejectUnauthorized: check.tlsVerify });
      if (check.sni !== undefined) Object.assign(options, { servername: check.sni });
      if (check.ca !== undefined) Object.assign(options, { ca: this.files.peek(check.ca) });
      if (check.cert !== undefined && check.key !== undefined) {
        Object.assign(options, { cert: this.files.peek(check.cert), key: this.files.peek(check.key) });
      }
    }
    const connector = buildConnector(options);
    this.#connectors.set(key, connector);
    return connector;
  }
}

function connectorKey(check: HttpCheckConfig): string {
  if (check.type === "http") return `http ${check.timeoutMs}`;
  const files = `${check.ca ?? ""} ${check.cert ?? ""} ${check.key ?? ""}`;
  return `https ${check.timeoutMs} ${check.tlsVerify} ${check.sni ?? ""} ${files}`;
}
