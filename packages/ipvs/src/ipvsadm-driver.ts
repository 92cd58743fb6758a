import { type IpvsTable, sortTable } from "@lvsq/protocol";
import { execa } from "execa";
import type { ApplyResult, IpvsDriver } from "./driver.js";
import { IpvsadmError } from "./errors.js";
import { opsNotTaken } from "./kernel-model.js";
import type { IpvsOp } from "./ops.js";
import { renderRestore } from "./render.js";
import { parseSave } from "./save-parser.js";
import { mergeThresholds, parseThresholds } from "./thresholds-parser.js";

export type IpvsadmDriverOptions = {
  /** ipvsadm program: config `director.ipvsadm`, overridden by env LVSQ_IPVSADM (see `ipvsadmPath`). */
  path?: string;
  /** Deadline of each ipvsadm process; it is killed (SIGTERM, then SIGKILL 1 s later) past it. */
  timeoutMs?: number;
  /** Run inside this network namespace (`ip netns exec NAME ipvsadm ...`): one IPVS table per netns. */
  netns?: string;
  /** `ip` program for `netns`. */
  ipPath?: string;
  /**
   * Also read `ipvsadm -L -n --thresholds`, since `ipvsadm -S` does not write `-x`/`-y` (default true).
   * Without it, a threshold set in the kernel is invisible and a desired one is re-applied forever.
   */
  readThresholds?: boolean;
};

/** The ipvsadm path to use: env LVSQ_IPVSADM wins over the configured one; default `ipvsadm`. */
export function ipvsadmPath(configured?: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.LVSQ_IPVSADM || configured || "ipvsadm";
}

type Run = { argv: string[]; exitCode: number | undefined; stdout: string; stderr: string; failure?: string };

/**
 * The kernel driver. `read` = `ipvsadm -S -n` (+ `-L -n --thresholds`); `apply` = ONE `ipvsadm -R`
 * fed all ops on stdin. Measured on Linux 6.1: -R carries on after a refused line (printing the
 * error without a line number) and its exit status is that of the LAST line only; a syntax error
 * stops it. So exit status and stderr cannot say which ops took: whenever either is not clean, the
 * driver re-reads the table and judges each op by its postcondition (`opsNotTaken`). Refusals whose
 * effect is already there ("exists" on add, "not found" on delete) are warnings; anything else throws
 * an IpvsadmError listing the ops that did not take. There is no retry: the next reconcile re-plans.
 */
export function createIpvsadmDriver(options: IpvsadmDriverOptions = {}): IpvsDriver {
  const program = options.path ?? "ipvsadm";
  const timeoutMs = options.timeoutMs ?? 10_000;
  const argvFor = (args: string[]): string[] =>
    options.netns === undefined
      ? [program, ...args]
      : [options.ipPath ?? "ip", "netns", "exec", options.netns, program, ...args];

  async function run(args: string[], input?: string): Promise<Run> {
    const argv = argvFor(args);
    const result = await execa(argv[0] as string, argv.slice(1), {
      input: input ?? "",
      timeout: timeoutMs,
      forceKillAfterDelay: 1000,
      reject: false,
      stripFinalNewline: false,
    });
    const run: Run = {
      argv,
      exitCode: result.exitCode,
      stdout: String(result.stdout ?? ""),
      stderr: String(result.stderr ?? ""),
    };
    if (result.timedOut) run.failure = `timed out after ${timeoutMs} ms`;
    else if (result.exitCode === undefined) run.failure = result.shortMessage ?? "did not run";
    if ((result as { code?: string }).code === "ENOENT") {
      run.failure = `${argv[0]} not found (apt-get install -y ipvsadm, or set director.ipvsadm / LVSQ_IPVSADM)`;
    }
    return run;
  }

  async function read(): Promise<IpvsTable> {
    const [save, list] = await Promise.all([
      run(["-S", "-n"]),
      options.readThresholds === false ? undefined : run(["-L", "-n", "--thresholds"]),
    ]);
    for (const r of [save, list]) {
      if (r !== undefined && (r.failure !== undefined || r.exitCode !== 0)) {
        throw new IpvsadmError(`reading the ipvs table failed${r.failure ? ` (${r.failure})` : ""}`, {
          argv: r.argv,
          exitCode: r.exitCode,
          stderr: r.stderr,
          notApplied: [],
        });
      }
    }
    const table = parseSave(save.stdout);
    if (list !== undefined) mergeThresholds(table, parseThresholds(list.stdout));
    return sortTable(table);
  }

  async function apply(ops: readonly IpvsOp[]): Promise<ApplyResult> {
    const started = performance.now();
    if (ops.length === 0) return { applied: 0, durationMs: 0, warnings: [] };
    const restore = await run(["-R"], renderRestore(ops));
    const warnings = restore.stderr.split("\n").filter((line) => line.trim() !== "");
    const clean = restore.failure === undefined && restore.exitCode === 0 && warnings.length === 0;
    if (clean) return { applied: ops.length, durationMs: performance.now() - started, warnings };
    let observed: IpvsTable;
    try {
      observed = await read();
    } catch (cause) {
      throw new IpvsadmError("ipvsadm -R failed and the table could not be re-read", {
        argv: restore.argv,
        exitCode: restore.exitCode,
        stderr: restore.stderr,
        notApplied: ops,
        cause,
      });
    }
    const notApplied = opsNotTaken(ops, observed);
    if (notApplied.length === 0)
      return { applied: ops.length, durationMs: performance.now() - started, warnings };
    throw new IpvsadmError(`ipvsadm -R failed${restore.failure ? ` (${restore.failure})` : ""}`, {
      argv: restore.argv,
      exitCode: restore.exitCode,
      stderr: restore.stderr,
      notApplied,
      observed,
    });
  }

  async function connections(): Promise<Map<string, Map<string, number>>> {
    const r = await run(["-L", "-n", "--thresholds"]);
    if (r.exitCode !== 0 || r.failure) {
      throw new IpvsadmError("reading connection counts failed", {
        argv: r.argv,
        exitCode: r.exitCode,
        stderr: r.stderr,
        notApplied: [],
      });
    }
    const out = new Map<string, Map<string, number>>();
    for (const [key, servers] of parseThresholds(r.stdout)) {
      out.set(key, new Map([...servers].map(([address, c]) => [address, c.active + c.inactive])));
    }
    return out;
  }

  return { read, apply, connections };
}
