import type { FaultRecord } from "./chaos.faults.js";
import type { Violation } from "./chaos.invariants.js";
import type { Schedule } from "./chaos.schedule.js";

/** What chaos.guest.ts writes to results.json. */
export type ChaosResults = {
  seed: number;
  mode: string;
  timeScale?: number;
  timers?: Record<string, number>;
  skewedClock?: { director: string; aheadS: number; atLeastMs: number; atMostMs: number };
  done?: boolean;
  error?: string;
  settleError?: string;
  startMs?: number;
  schedule?: Schedule;
  faults?: FaultRecord[];
  figures?: {
    checks: number;
    longestGapMs: number;
    violations: Violation[];
    removals: number;
    divergences: number;
    longestDivergenceMs: number;
    longestQuietDivergenceMs: number;
    removalDeadlinesChecked: number;
    removalsExcusedByFaults: number;
    removalLatencyMs: { count: number; median: number; max: number };
    boundMs: number;
    allowanceMs: number;
    faultsEndedMs: number;
    settleMs: number;
    maxConcurrentFaults: number;
    unexpectedExits: { name: string; code: number | null; at: number }[];
    directorStarts: Record<string, number>;
    rssMbAtEnd: Record<string, number>;
    client: { requests: number; ok: number };
    events: Record<string, number>;
  };
  log: string[];
  agentLogTail?: Record<string, string[]>;
};

export const injectedByKind = (faults: readonly FaultRecord[]) =>
  faults.reduce<Record<string, number>>((acc, f) => {
    if (!f.error) acc[f.kind] = (acc[f.kind] ?? 0) + 1;
    return acc;
  }, {});

/** The report printed at the end of a chaos run: the seed first, so a failure can be replayed. */
export function chaosReport(r: ChaosResults, guestLabel: string): string {
  const f = r.figures;
  const faults = r.faults ?? [];
  const flood = faults.find((x) => x.kind === "flood")?.detail as
    | { sent: number; publishMs: number; disconnects?: number; rssMbAfter: Record<string, number> }
    | undefined;
  const violations = f?.violations ?? [];
  // Where a violation falls: seconds after the first fault began, and the faults active within 10 s of it.
  const firstAt = Math.min(...faults.map((x) => x.startedAt));
  const around = (t: number) => {
    const near = faults.filter((x) => x.startedAt <= t + 10_000 && (x.endedAt ?? t) >= t - 10_000);
    return ` (at +${((t - firstAt) / 1000).toFixed(1)} s; faults within 10 s: ${
      near.map((x) => `${x.kind}${x.target ? ` ${x.target}` : ""}`).join(", ") || "none"
    })`;
  };
  const mb = (rss: Record<string, number> | undefined) =>
    Object.entries(rss ?? {})
      .map(([d, v]) => `${d} ${v > 0 ? `${v.toFixed(0)} MB` : "n/a (restarting)"}`)
      .join(", ");
  const lines = [
    `chaos report — seed ${r.seed} (${r.mode} run; replay: LVSQ_CHAOS_SEED=${r.seed}${r.mode === "long" ? " npm run chaos" : " npx vitest run --project e2e test/e2e/chaos.test.ts"})`,
    `guest: ${guestLabel}; time scale ${r.timeScale ?? "?"} (timers ${Object.entries(r.timers ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")})`,
    `clocks: ${r.skewedClock ? `${r.skewedClock.director}'s wall clock ${r.skewedClock.aheadS} s ahead of the rest of the fleet (libfaketime; measured ${r.skewedClock.atLeastMs}-${r.skewedClock.atMostMs} ms)` : "?"}`,
    `fleet up (every backend in both tables) ${r.startMs ?? "?"} ms after the agents started`,
    `faults injected: ${faults.filter((x) => !x.error).length} of ${r.schedule?.faults.length ?? 0} scheduled, at most ${f?.maxConcurrentFaults ?? "?"} at once`,
    ...Object.entries(injectedByKind(faults))
      .sort()
      .map(([k, n]) => `  ${k.padEnd(18)} ${n}`),
    ...faults.filter((x) => x.error).map((x) => `  FAILED to inject ${x.kind}: ${x.error}`),
    `invariant checks: ${f?.checks ?? 0} samples of both kernel tables (every 100 ms; longest gap ${f?.longestGapMs ?? "?"} ms, when the scenario's event loop was busy)`,
    `violations: ${violations.length}`,
    `  wrong removals (removed while a quorum of sites saw it up): ${violations.filter((v) => v.kind === "wrong-removal").length}`,
    `  tables emptied by a fault that is not a backend failure:    ${violations.filter((v) => v.kind === "emptied").length}`,
    `  pair tables apart > ${1.5 * (r.timeScale ?? 1)} s in quiet (no fault within its settle time): ${violations.filter((v) => v.kind === "divergence").length} (longest in quiet ${f?.longestQuietDivergenceMs ?? "?"} ms; while faults came and went: ${f?.divergences ?? 0} divergences, longest ${f?.longestDivergenceMs ?? "?"} ms)`,
    `  real failures not out within ${f?.boundMs ?? "?"} ms + ${f?.allowanceMs ?? "?"} ms guest allowance: ${violations.filter((v) => v.kind === "late-removal").length} (${f?.removalDeadlinesChecked ?? 0} deadlines checked, ${f?.removalsExcusedByFaults ?? 0} pushed past a broker, restart or ipvs fault)`,
    `  admin override lost:                                        ${violations.filter((v) => v.kind === "admin-override-lost").length}`,
    `  crashes or restart loops (exits the schedule did not ask for): ${f?.unexpectedExits.length ?? "?"}`,
    `removal latency (failure → out of a table, outside excusing faults): median ${f?.removalLatencyMs.median ?? "?"} ms, max ${f?.removalLatencyMs.max ?? "?"} ms over ${f?.removalLatencyMs.count ?? 0}`,
    `director starts: ${Object.entries(f?.directorStarts ?? {})
      .map(([d, n]) => `${d} ${n}`)
      .join(", ")}`,
    flood
      ? `flood: ${flood.sent} malformed, forged and replayed messages in ${flood.publishMs} ms${flood.disconnects ? ` (its connection dropped ${flood.disconnects} times and was resumed)` : ""}; director RSS 2 s after: ${mb(flood.rssMbAfter)}`
      : "flood: not run",
    `director RSS at the end: ${mb(f?.rssMbAtEnd)}`,
    `client through the VIP: ${f?.client.ok ?? 0} of ${f?.client.requests ?? 0} requests answered`,
    `events seen on the bus: ${Object.entries(f?.events ?? {})
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
    `settled ${f?.settleMs ?? "?"} ms after the last fault${r.settleError ? ` (NOT: ${r.settleError})` : ""}`,
    ...violations
      .slice(0, 20)
      .map((v) => `  ! ${v.kind} ${v.director ?? ""} ${v.rs ?? ""}: ${v.detail}${around(v.t)}`),
  ];
  return lines.join("\n");
}
