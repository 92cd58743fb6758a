import type { CheckConfig } from "@lvsq/config";
import { runExecCheck } from "./exec-check.js";
import { HttpChecker } from "./http-check.js";
import { type CheckResult, errorMessage, makeResult } from "./result.js";
import { runTcpCheck } from "./tcp-check.js";
import type { CheckTarget } from "./target.js";

export type RunCheckOptions = {
  /** Aborting cancels the check; the result is then `abstain` / `cancelled`. */
  signal?: AbortSignal;
};

export type CheckRunner = {
  run(check: CheckConfig, target: CheckTarget, options?: RunCheckOptions): Promise<CheckResult>;
};

/**
 * A runner owns the caches that make checks cheap (undici connectors per TLS setting, CA files read once,
 * compiled body regexes). A probe makes one per loaded config, so a reload re-reads CA files.
 */
export function createCheckRunner(): CheckRunner {
  const http = new HttpChecker();
  return {
    async run(check, target, options) {
      const startedAt = performance.now();
      try {
        switch (check.type) {
          case "http":
          case "https":
            return await http.run(check, target, options?.signal);
          case "tcp":
            return await runTcpCheck(check, target, options?.signal);
          case "exec":
            return await runExecCheck(check, target, options?.signal);
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
