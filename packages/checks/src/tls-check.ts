import { connect } from "node:tls";
import type { TlsCheckConfig } from "@lvsq/config";
import { socketVerdict, withDeadline } from "./deadline.js";
import { type FileCache, tlsOptions } from "./files.js";
import { type CheckResult, makeResult } from "./result.js";
import { type CheckTarget, splitEndpoint } from "./target.js";

const DAY_MS = 86_400_000;
/** How long a TLS 1.3 handshake waits for a server that says nothing after it (no session tickets). */
const CLIENT_AUTH_GRACE_MS = 200;

/**
 * A full TLS handshake (no session resumption), verified like https (`tlsVerify`, `sni`, `ca`, a client
 * certificate for mTLS), then the server certificate's remaining validity:
 *
 *   | remaining validity          | verdict                    |
 *   |-----------------------------|----------------------------|
 *   | expired                     | down (also with tlsVerify off) |
 *   | < expiryDown                | down                       |
 *   | < expiryWarn                | up, with `warning`         |
 *   | otherwise                   | up                         |
 *
 * `now` is the wall clock: certificate dates are wall-clock dates.
 */
export function runTlsCheck(
  check: TlsCheckConfig,
  target: CheckTarget,
  files: FileCache,
  signal?: AbortSignal,
  now: () => number = Date.now,
): Promise<CheckResult> {
  const endpoint = splitEndpoint(target.address, check.port);
  if ("error" in endpoint) return Promise.resolve(makeResult("abstain", performance.now(), endpoint.error));
  return withDeadline(check.timeoutMs, signal, async (run) => {
    const options = await tlsOptions(files, check);
    if ("error" in options) return run.finish("abstain", options.error);
    const socket = connect({ ...options, host: endpoint.host, port: endpoint.port });
    run.onFinish(() => socket.destroy());
    socket.once("connect", () => {
      run.phase = "handshake";
    });
    socket.on("error", (error) => run.finish(...socketVerdict(error, run.phase)));
    const judge = () => {
      const certificate = socket.getPeerCertificate();
      const protocol = socket.getProtocol() ?? "TLS";
      if (!certificate || certificate.valid_to === undefined)
        return run.finish("down", "TLS: no server certificate");
      const remainingMs = Date.parse(certificate.valid_to) - now();
      const days = Math.floor(remainingMs / DAY_MS);
      const subject = certificate.subject?.CN ?? "certificate";
      if (remainingMs <= 0) return run.finish("down", `TLS: ${subject} expired on ${certificate.valid_to}`);
      if (check.expiryDownMs !== undefined && remainingMs < check.expiryDownMs) {
        return run.finish(
          "down",
          `TLS: ${subject} expires in ${days} days (down under ${check.expiryDownMs / DAY_MS})`,
        );
      }
      if (check.expiryWarnMs !== undefined && remainingMs < check.expiryWarnMs) {
        return run.finish(
          "up",
          `${protocol}; ${subject} expires in ${days} days (warning under ${check.expiryWarnMs / DAY_MS})`,
          {
            warning: true,
          },
        );
      }
      run.finish("up", `${protocol}; ${subject} valid for ${days} more days`);
    };
    socket.once("secureConnect", () => {
      // TLS 1.3 finishes the client's side of the handshake before the server has judged our certificate (or
      // its absence): a rejection arrives as an alert right after. Wait for the server's first word (a
      // session ticket, data, a close, or that alert), or a short grace for servers that send no tickets.
      if (socket.getProtocol() !== "TLSv1.3") return judge();
      run.phase = "client certificate check";
      const grace = setTimeout(judge, Math.min(CLIENT_AUTH_GRACE_MS, check.timeoutMs / 4));
      run.onFinish(() => clearTimeout(grace));
      socket.once("session", judge);
      socket.once("data", judge);
      socket.once("end", judge);
    });
  });
}
