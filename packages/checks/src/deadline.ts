import {
  type CheckResult,
  type Verdict,
  errorCode,
  errorMessage,
  isMachineryErrno,
  makeResult,
} from "./result.js";

export type CheckExtra = { weight?: number | undefined; detail?: string | undefined; warning?: boolean };

/** What a check body gets: one way to finish, a phase for timeout reasons, and cleanups run on finish. */
export type CheckRun = {
  /** Where the check is (`connect`, `reply`, `banner`…): a timeout names it. */
  phase: string;
  /** Returns undefined so a body can `return run.finish(…)`. */
  finish(verdict: Verdict, reason: string, extra?: CheckExtra): undefined;
  /** Runs once the verdict is known, on every path: destroy sockets here. */
  onFinish(cleanup: () => void): void;
  readonly settled: boolean;
};

/**
 * Runs a check body under one deadline for the whole exchange: at `timeoutMs` it is `down` with
 * `timeout after … ms in <phase>` (or `abstain` when the deadline fired late: the probe stalled); an abort makes it `abstain` / `cancelled`; the first `finish` wins and
 * every cleanup runs. A body that throws is a checker bug: `abstain`, never an accusation.
 */
export function withDeadline(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  body: (run: CheckRun) => void | Promise<void>,
): Promise<CheckResult> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const cleanups: (() => void)[] = [];
    let settled = false;
    const run: CheckRun = {
      phase: "connect",
      get settled() {
        return settled;
      },
      finish(verdict, reason, extra) {
        if (settled) return undefined;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        for (const cleanup of cleanups.splice(0)) {
          try {
            cleanup();
          } catch {
            // A cleanup that fails (a socket already gone) must not change the verdict.
          }
        }
        resolve(makeResult(verdict, startedAt, reason, extra));
        return undefined;
      },
      onFinish(cleanup) {
        if (settled) cleanup();
        else cleanups.push(cleanup);
      },
    };
    const timer = setTimeout(
      () => run.finish(...deadlineVerdict(timeoutMs, startedAt, run.phase)),
      timeoutMs,
    );
    const onAbort = (): void => run.finish("abstain", "cancelled");
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const pending = body(run);
      if (pending)
        pending.catch((error: unknown) => run.finish("abstain", `checker error: ${errorMessage(error)}`));
    } catch (error) {
      run.finish("abstain", `checker error: ${errorMessage(error)}`);
    }
  });
}

/**
 * The verdict of a deadline armed at `armedAt` (performance.now) that has just fired: `down`, unless it
 * fired more than half the timeout (at least 250 ms) late. Timers run before sockets are read in each turn
 * of the event loop, so a probe that was itself stalled (a loaded host, a long GC) sees its deadline pass
 * before it reads an answer that may have come in time: that is the checker's own failure, an abstention.
 */
export function deadlineVerdict(timeoutMs: number, armedAt: number, phase: string): [Verdict, string] {
  const lateMs = performance.now() - armedAt - timeoutMs;
  if (lateMs > Math.max(250, timeoutMs / 2))
    return [
      "abstain",
      `probe stalled: its ${timeoutMs} ms timeout fired ${Math.round(lateMs)} ms late in ${phase}`,
    ];
  return ["down", `timeout after ${timeoutMs} ms in ${phase}`];
}

/**
 * A socket error as a verdict: the probe's own trouble (descriptors, buffers, routes) abstains; anything the
 * server or the network did is down, named by phase (`connect ECONNREFUSED`, `ECONNRESET in banner`).
 */
export function socketVerdict(error: unknown, phase: string): [Verdict, string] {
  const code = errorCode(error);
  if (code === undefined) return ["abstain", `checker error: ${errorMessage(error)}`];
  if (isMachineryErrno(code)) return ["abstain", `${phase} ${code}`];
  if (/CERT|SSL|TLS|SIGNATURE|ISSUER|HOSTNAME|ALTNAME|KEY_USAGE|VERIFY/.test(code)) {
    return ["down", `TLS: ${errorMessage(error)}`];
  }
  return ["down", phase === "connect" ? `connect ${code}` : `${code} in ${phase}`];
}

/** Short quoted text for reasons. */
export function quote(text: string | undefined): string {
  const shown = text ?? "";
  return JSON.stringify(shown.length > 60 ? `${shown.slice(0, 60)}…` : shown);
}

/** The bytes a payload option names: text as UTF-8, or hex. */
export function payloadBytes(text: string | undefined, hex: string | undefined): Buffer | undefined {
  if (hex !== undefined) return Buffer.from(hex, "hex");
  if (text !== undefined && text !== "") return Buffer.from(text, "utf8");
  return undefined;
}
