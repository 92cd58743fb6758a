import type { CheckConfig } from "@lvsq/config";
import { runAgentCheck } from "./agent-check.js";
import { runDnsCheck } from "./dns-check.js";
import { runExecCheck } from "./exec-check.js";
import { FileCache } from "./files.js";
import { HttpChecker } from "./http-check.js";
import { runIcmpCheck } from "./icmp-check.js";
import { type CheckResult, errorMessage, makeResult } from "./result.js";
import { runSmtpCheck } from "./smtp-check.js";
import { runTcpCheck } from "./tcp-check.js";
import type { CheckTarget } from "./target.js";
import { runTlsCheck } from "./tls-check.js";
import { runUdpCheck } from "./udp-check.js";

export type RunCheckOptions = {
  /** Aborting cancels the check; the result is then `abstain` / `cancelled`. */
  signal?: AbortSignal;
};

export type CheckRunner = {
  run(check: CheckConfig, target: CheckTarget, options?: RunCheckOptions): Promise<CheckResult>;
};

export type CheckRunnerOptions = {
  /** The `ping` program icmp checks run (default `ping` from PATH; LVSQ_PING overrides). */
  ping?: string;
};

/**
 * A runner owns the caches that make checks cheap (undici connectors per TLS setting, CA, certificate and
 * key files read once, compiled body regexes). A probe makes one per loaded config, so a reload re-reads
 * those files.
 */
export function createCheckRunner(options: CheckRunnerOptions = {}): CheckRunner {
  const files = new FileCache();
  const http = new HttpChecker(files);
  const ping = options.ping ?? process.env.LVSQ_PING ?? "ping";
  return {
    async run(check, target, runOptions) {
      const startedAt = performance.now();
      const signal = runOptions?.signal;
      try {
        switch (check.type) {
          case "http":
          case "https":
            return await http.run(check, target, signal);
          case "tcp":
            return await runTcpCheck(check, target, signal);
          case "exec":
            return await runExecCheck(check, target, signal);
          case "dns":
            return await runDnsCheck(check, target, signal);
          case "udp":
            return await runUdpCheck(check, target, signal);
          case "icmp":
            return await runIcmpCheck(check, target, ping, signal);
          case "smtp":
            return await runSmtpCheck(check, target, files, signal);
          case "tls":
            return await runTlsCheck(check, target, files, signal);
          case "agent":
            return await runAgentCheck(check, target, signal);
          default:
            return makeResult("abstain", startedAt, `unknown check type ${(check as { type: string }).type}`);
        }
      } catch (error) {
        // Only a bug gets here; it must not accuse the server.
        return makeResult("abstain", startedAt, `checker error: ${errorMessage(error)}`);
      }
    },
  };
}
