import type { ExecCheckConfig } from "@lvsq/config";
import { execa } from "execa";
import { type CheckResult, errorMessage, makeResult } from "./result.js";
import { type CheckTarget, splitEndpoint } from "./target.js";

/** After the check's timeout a script gets SIGTERM; this long after, SIGKILL. */
export const EXEC_KILL_DELAY_MS = 500;
/** Output beyond this is a broken checker (abstain); only the first 256 bytes are reported anyway. */
const EXEC_MAX_OUTPUT_BYTES = 1024 * 1024;

/**
 * Runs a script the keepalived MISC_CHECK way: exit 0 up, 1 down, 2..255 up with weight = code − 2
 * (misc_dynamic). Killed at the timeout → down. A checker that cannot run (not found, not executable, killed
 * by someone else, too much output) → abstain: a broken checker never accuses a server.
 *
 * The script runs in its own process group, and the timeout signals the whole group: a `sh -c` wrapper's
 * children die with it instead of holding the output pipe open past the deadline.
 */
export async function runExecCheck(
  check: ExecCheckConfig,
  target: CheckTarget,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const startedAt = performance.now();
  const [file, ...args] = check.command;
  if (file === undefined) return makeResult("abstain", startedAt, "exec check without a command");
  const endpoint = splitEndpoint(target.address, check.port);
  if ("error" in endpoint) return makeResult("abstain", startedAt, endpoint.error);
  if (signal?.aborted) return makeResult("abstain", startedAt, "cancelled");
  const env = {
    ...check.env,
    LVSQ_RS: target.address,
    LVSQ_RS_HOST: endpoint.host,
    LVSQ_RS_PORT: String(endpoint.port),
    LVSQ_SERVICE: target.service,
  };
  let subprocess: ReturnType<typeof spawn>;
  try {
    subprocess = spawn(file, args, env, check.timeoutMs);
  } catch (error) {
    return makeResult("abstain", startedAt, `cannot run ${file}: ${errorMessage(error)}`);
  }
  const signalGroup = (name: NodeJS.Signals): void => {
    if (subprocess.pid === undefined) return;
    try {
      process.kill(-subprocess.pid, name);
    } catch {
      // ESRCH: the group is already gone.
    }
  };
  let cancelled = false;
  const onAbort = (): void => {
    cancelled = true;
    signalGroup("SIGKILL");
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  let timedOut = false;
  const termTimer = setTimeout(() => {
    timedOut = true;
    signalGroup("SIGTERM");
  }, check.timeoutMs);
  const killTimer = setTimeout(() => signalGroup("SIGKILL"), check.timeoutMs + EXEC_KILL_DELAY_MS);
  try {
    const result = await subprocess;
    const detail = typeof result.all === "string" ? result.all : undefined;
    const extra = detail === undefined ? undefined : { detail };
    if (cancelled) return makeResult("abstain", startedAt, "cancelled", extra);
    if (result.timedOut || (timedOut && result.signal))
      return makeResult("down", startedAt, `killed after timeout ${check.timeoutMs} ms`, extra);
    if (result.code === "ENOENT") return makeResult("abstain", startedAt, `command not found: ${file}`);
    if (result.code === "EACCES") return makeResult("abstain", startedAt, `not executable: ${file}`);
    if (result.isMaxBuffer) {
      return makeResult("abstain", startedAt, `output over ${EXEC_MAX_OUTPUT_BYTES} bytes`, extra);
    }
    if (result.signal) return makeResult("abstain", startedAt, `killed by ${result.signal}`, extra);
    const exitCode = result.exitCode;
    if (exitCode === undefined) {
      return makeResult("abstain", startedAt, `cannot run ${file}: ${result.originalMessage ?? result.code}`);
    }
    if (exitCode === 0) return makeResult("up", startedAt, "exit 0", extra);
    if (exitCode === 1) return makeResult("down", startedAt, "exit 1", extra);
    return makeResult("up", startedAt, `exit ${exitCode}`, { ...extra, weight: exitCode - 2 });
  } finally {
    clearTimeout(termTimer);
    clearTimeout(killTimer);
    signal?.removeEventListener("abort", onAbort);
  }
}

function spawn(file: string, args: string[], env: Record<string, string>, timeoutMs: number) {
  return execa(file, args, {
    env,
    stdin: "ignore",
    all: true,
    reject: false,
    stripFinalNewline: true,
    maxBuffer: EXEC_MAX_OUTPUT_BYTES,
    timeout: timeoutMs,
    forceKillAfterDelay: EXEC_KILL_DELAY_MS,
    detached: true,
  });
}
