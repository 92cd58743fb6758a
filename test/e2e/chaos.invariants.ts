import { BACKEND_FAULTS, type FaultKind, NATS_FAULTS } from "./chaos.schedule.js";

/**
 * The chaos run's invariants, checked on every sample of both directors' kernel tables (every 100 ms) and
 * once more at the end. Pure: it is given times and tables, so the same checker runs anywhere.
 *
 * - wrong removal: a real server leaves a table while no backend fault touched it within `justifyMs`
 *   (so every site that could reach it saw it up: the schedule never cuts more than one site off the
 *   backends, so a quorum of sites could always reach it);
 * - emptied: a table with no real server (the schedule never fails more than two of five backends);
 * - divergence: the two tables differ for longer than `quietDivergenceMs` while the fleet is quiet: no fault
 *   active, nor within its settle time (a broker fault, a director killed, failing ipvs writes, the flood
 *   have their own; every other kind `settleMs.quiet`);
 * - late removal: a backend kill or hang that lasted past its deadline (`boundMs + allowanceMs` after it
 *   began, pushed past any excusing fault) is not out of a table by then;
 * - admin: the disabled real server back in a table.
 */

export type Table = Record<string, number>;
export type InjectedFault = { kind: FaultKind; target?: string; startedAt: number; endedAt?: number };

export type InvariantOptions = {
  directors: readonly string[];
  /** The director whose ipvs writes the schedule fails (only its own table is excused then). */
  flakyDirector: string;
  disabledRs: string;
  /** fall × interval + timeout + 1 s. */
  boundMs: number;
  /** Added to `boundMs` for the guest's slowness (stated in the report). */
  allowanceMs: number;
  justifyMs: number;
  quietDivergenceMs: number;
  settleMs: { nats: number; restart: number; ipvs: number; flood: number; quiet: number };
};

export type Violation = { kind: string; t: number; director?: string; rs?: string; detail: string };

export function createInvariants(options: InvariantOptions, faults: readonly InjectedFault[]) {
  const previous = new Map<string, Table>();
  const removals: { t: number; director: string; rs: string }[] = [];
  const firstSeen = new Map<string, Table>();
  const violations: Violation[] = [];
  const emptyNow = new Set<string>();
  let checks = 0;
  let lastSampleAt: number | undefined;
  let longestGapMs = 0;
  let divergedAt: number | undefined;
  let longestQuietDivergenceMs = 0;
  let divergences = 0;

  const excuses = (director: string | undefined, now: number) =>
    faults.flatMap((f) => {
      const end = (f.endedAt ?? now) + 0;
      // A lost bucket is made again by the next write, and every director reads the pair's records anew.
      if (NATS_FAULTS.includes(f.kind) || f.kind === "bucket-loss")
        return [[f.startedAt, end + options.settleMs.nats]];
      if (f.kind === "leader-kill" || f.kind === "director-twin")
        return [[f.startedAt, end + options.settleMs.restart]];
      if (f.kind === "flood") return [[f.startedAt, end + options.settleMs.flood]];
      if (f.kind === "ipvs-fail" && (director === undefined || director === options.flakyDirector))
        return [[f.startedAt, end + options.settleMs.ipvs]];
      return [];
    }) as [number, number][];

  /**
   * Longest stretch of [from, to] that was quiet: no fault of any kind active, nor within its settle time
   * (`settleMs.quiet` for the kinds without one of their own). While faults come and go the follower
   * may trail the leader (the report gives the longest such gap as a figure); in quiet it must not.
   */
  const unexcusedStretch = (from: number, to: number, now: number) => {
    const busy: [number, number][] = faults
      .filter(
        (f) =>
          !NATS_FAULTS.includes(f.kind) &&
          f.kind !== "bucket-loss" &&
          f.kind !== "director-twin" &&
          f.kind !== "leader-kill" &&
          f.kind !== "ipvs-fail" &&
          f.kind !== "flood",
      )
      .map((f) => [f.startedAt, (f.endedAt ?? now) + options.settleMs.quiet]);
    const windows = [...excuses(undefined, now), ...busy].sort((a, b) => a[0] - b[0]);
    let longest = 0;
    let cursor = from;
    for (const [s, e] of windows) {
      if (e <= cursor || s >= to) continue;
      if (s > cursor) longest = Math.max(longest, s - cursor);
      cursor = Math.max(cursor, e);
    }
    if (cursor < to) longest = Math.max(longest, to - cursor);
    return longest;
  };

  const justified = (rs: string, t: number) =>
    faults.some(
      (f) =>
        BACKEND_FAULTS.includes(f.kind) &&
        f.target === rs &&
        f.startedAt <= t &&
        (f.endedAt === undefined || f.endedAt >= t - options.justifyMs),
    );

  let longestDivergenceMs = 0;
  const closeDivergence = (t: number) => {
    if (divergedAt === undefined) return;
    longestDivergenceMs = Math.max(longestDivergenceMs, t - divergedAt);
    const quiet = unexcusedStretch(divergedAt, t, t);
    longestQuietDivergenceMs = Math.max(longestQuietDivergenceMs, quiet);
    if (quiet > options.quietDivergenceMs)
      violations.push({
        kind: "divergence",
        t: divergedAt,
        detail: `tables differed for ${t - divergedAt} ms, ${quiet} ms of it outside any excusing fault`,
      });
    divergedAt = undefined;
  };

  return {
    /** One sample: each director's table, or undefined where it could not be read. */
    sample(t: number, tables: Record<string, Table | undefined>): void {
      checks++;
      if (lastSampleAt !== undefined) longestGapMs = Math.max(longestGapMs, t - lastSampleAt);
      lastSampleAt = t;
      for (const director of options.directors) {
        const table = tables[director];
        if (!table) continue;
        if (!firstSeen.has(director)) firstSeen.set(director, table);
        const before = previous.get(director);
        for (const rs of Object.keys(before ?? {})) {
          if (rs in table || rs === options.disabledRs) continue;
          removals.push({ t, director, rs });
          if (!justified(rs, t))
            violations.push({
              kind: "wrong-removal",
              t,
              director,
              rs,
              detail: `${rs} left ${director}'s table with no backend fault on it in the last ${options.justifyMs} ms`,
            });
        }
        if (options.disabledRs in table)
          violations.push({
            kind: "admin-override-lost",
            t,
            director,
            rs: options.disabledRs,
            detail: "disabled real server in the table",
          });
        const empty = Object.keys(table).length === 0;
        if (empty && !emptyNow.has(director))
          violations.push({ kind: "emptied", t, director, detail: `${director}'s table has no real server` });
        if (empty) emptyNow.add(director);
        else emptyNow.delete(director);
        previous.set(director, table);
      }
      const [a, b] = options.directors.map((d) => tables[d]);
      if (!a || !b) return;
      const same = tableKey(a) === tableKey(b);
      if (!same && divergedAt === undefined) {
        divergedAt = t;
        divergences++;
      }
      if (same) closeDivergence(t);
    },
    /** Closes open episodes and checks every real failure's removal deadline. */
    finish(t: number) {
      closeDivergence(t);
      const latencies: number[] = [];
      let excused = 0;
      let checked = 0;
      for (const f of faults) {
        if ((f.kind !== "backend-kill" && f.kind !== "backend-hang") || !f.target) continue;
        for (const director of options.directors) {
          const bound = options.boundMs + options.allowanceMs;
          let from = f.startedAt;
          for (let moved = true; moved; ) {
            moved = false;
            for (const [s, e] of excuses(director, t))
              if (s < from + bound && e > from) {
                from = e;
                moved = true;
              }
          }
          const deadline = from + bound;
          const end = f.endedAt ?? t;
          const removedAt = removals.find(
            (r) => r.director === director && r.rs === f.target && r.t >= f.startedAt,
          )?.t;
          if (from !== f.startedAt) excused++;
          else if (removedAt !== undefined) latencies.push(removedAt - f.startedAt);
          if (end <= deadline) continue;
          checked++;
          if (removedAt === undefined || removedAt > deadline)
            violations.push({
              kind: "late-removal",
              t: f.startedAt,
              director,
              rs: f.target,
              detail: `${f.kind} of ${f.target} lasted ${end - f.startedAt} ms; out of ${director}'s table ${
                removedAt === undefined ? "never" : `after ${removedAt - f.startedAt} ms`
              }, deadline ${deadline - f.startedAt} ms`,
            });
        }
      }
      latencies.sort((x, y) => x - y);
      return {
        checks,
        longestGapMs,
        violations,
        removals: removals.length,
        divergences,
        longestDivergenceMs,
        longestQuietDivergenceMs,
        removalDeadlinesChecked: checked,
        removalsExcusedByFaults: excused,
        removalLatencyMs: {
          count: latencies.length,
          median: latencies[Math.floor(latencies.length / 2)] ?? 0,
          max: latencies.at(-1) ?? 0,
        },
      };
    },
  };
}

export const tableKey = (t: Table) =>
  Object.entries(t)
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([rs, w]) => `${rs}=${w}`)
    .join(",");
