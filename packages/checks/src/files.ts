import { readFile } from "node:fs/promises";
import type { TlsSettings } from "@lvsq/config";
import type { ConnectionOptions } from "node:tls";
import { errorCode, errorMessage } from "./result.js";

/**
 * Files a check needs (CA bundles, client certificates and keys), read once per runner: a reload makes a
 * new runner and so re-reads them. A file that cannot be read is not cached, so the next check tries again.
 */
export class FileCache {
  readonly #files = new Map<string, Buffer>();

  async read(path: string, what: string): Promise<Buffer | { error: string }> {
    const cached = this.#files.get(path);
    if (cached) return cached;
    try {
      const bytes = await readFile(path);
      this.#files.set(path, bytes);
      return bytes;
    } catch (error) {
      return { error: `${what} ${path}: ${errorCode(error) ?? errorMessage(error)}` };
    }
  }

  /** Cached bytes, without I/O; undefined when the file was not read yet. */
  peek(path: string): Buffer | undefined {
    return this.#files.get(path);
  }
}

/**
 * node:tls options for a check's TLS settings: verification, SNI, CA, client certificate (mTLS). No session
 * cache: every check does a full handshake, so a certificate that changed fails the very next check.
 */
export async function tlsOptions(
  files: FileCache,
  tls: Omit<TlsSettings, "timeoutMs">,
): Promise<ConnectionOptions | { error: string }> {
  const options: ConnectionOptions = { rejectUnauthorized: tls.tlsVerify };
  if (tls.sni !== undefined) options.servername = tls.sni;
  for (const [field, what] of [
    ["ca", "CA file"],
    ["cert", "client certificate"],
    ["key", "client key"],
  ] as const) {
    const path = tls[field];
    if (path === undefined) continue;
    const bytes = await files.read(path, what);
    if ("error" in bytes) return bytes;
    options[field] = bytes;
  }
  return options;
}
