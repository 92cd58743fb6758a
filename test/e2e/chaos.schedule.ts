/**
 * The chaos run's fault schedule: a pure function of (seed, mode), so a printed seed replays the same faults
 * at the same offsets (`LVSQ_CHAOS_SEED`). Faults overlap on purpose, within rules that keep the run about
 * the promise being tested (a fault that is not a backend failure never empties a table) rather than about
 * a fleet that is genuinely gone: at most two backends failing at once (four of the five checked real
 * servers stay), at most one site cut from the backends and one from NATS at a time, NATS node faults
 * and the full outage apart, and no director restart while its ipvs writes fail.
 */

export type ChaosMode = "short" | "long";

export type FaultKind =
  | "backend-kill"
  | "backend-hang"
  | "backend-flap"
  | "site-backend-cut"
  | "site-nats-cut"
  | "nats-node-kill"
  | "nats-node-pause"
  | "broker-outage"
  | "leader-kill"
  | "ipvs-fail"
  | "bad-config"
  | "flood"
  | "bucket-loss"
  | "director-twin";

export type Fault = {
  kind: FaultKind;
  /** Offset from the start of the fault phase, ms. */
  atMs: number;
  /** How long the fault lasts, ms (0 for the instant ones: bad-config, flood). */
  durationMs: number;
  /** A real server (backend faults), a site id, a NATS node index, a director id; absent otherwise. */
  target?: string;
  /** Messages in a flood. */
  count?: number;
  /** Kept clear of every fault that excuses a slow removal, so the removal bound is always checked. */
  clear?: boolean;
};

/** Faults during which (and a settle time after) a director may be slow to act: see chaos.invariants.ts. */
export const EXCUSING_FAULTS: readonly FaultKind[] = [
  "nats-node-kill",
  "nats-node-pause",
  "broker-outage",
  "leader-kill",
  "ipvs-fail",
  "flood",
  "bucket-loss",
  "director-twin",
];

export const BACKEND_FAULTS: readonly FaultKind[] = ["backend-kill", "backend-hang", "backend-flap"];
/** Faults of the broker: while one lasts (and a settle time after), directors may lag or hold still. */
export const NATS_FAULTS: readonly FaultKind[] = ["nats-node-kill", "nats-node-pause", "broker-outage"];

export type ScheduleInput = {
  seed: number;
  mode: ChaosMode;
  /** Real servers faults may hit (the admin-disabled one is not among them). */
  realServers: readonly string[];
  sites: readonly string[];
  natsNodes: number;
  /** The director whose ipvs writes can be made to fail. */
  flakyDirector: string;
  /**
   * The guest's time scale (test/harness/in-guest.ts): every offset and duration is stretched by it, as the
   * fleet's timers are, so a slow guest plays the same story slower. 1 by default.
   */
  scale?: number;
};

export type Schedule = { seed: number; mode: ChaosMode; lengthMs: number; faults: Fault[] };

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The short run is what npm test plays: every fault kind once, packed (shorter faults, up to 5 at once); the
 * long run, `npm run chaos`, plays them many times over. `faultMs` bounds the length of most faults.
 */
const SHAPE = {
  short: {
    lengthMs: 95_000,
    outageMs: 10_000,
    floodCount: 10_000,
    extraBackend: 2,
    extraOther: 0,
    faultMs: [6_000, 10_000],
  },
  long: {
    lengthMs: 330_000,
    outageMs: 60_000,
    floodCount: 100_000,
    extraBackend: 22,
    extraOther: 2,
    faultMs: [7_000, 14_000],
  },
} as const;

/**
 * How long a fault occupies the fleet, for keeping faults apart: its duration, except the flood, whose
 * messages take real time to write, publish and drain: 5 s (writing its file, starting its process) plus
 * 25 s per 100,000, stretched by the time scale like the rest (90 s at 3; in a TCG guest at 3 the flood
 * and its drain took 35-90 s, and a NATS node killed in its tail left JetStream answering nothing for
 * minutes, seed 1377926389; under UML the 10,000 of the short run were still being published 8.8 s after
 * the flood began, when the broker outage placed then cut their connection: the publisher now rides out a
 * broker fault, see chaos.world.ts).
 */
export const span = (f: Pick<Fault, "kind" | "durationMs" | "count">) =>
  f.kind === "flood" ? 5_000 + Math.round((25_000 * (f.count ?? 0)) / 100_000) : f.durationMs;

const overlaps = (a: Fault, b: Fault, gapMs = 0) =>
  a.atMs < b.atMs + span(b) + gapMs && b.atMs < a.atMs + span(a) + gapMs;

/** Whether `f` may join `placed` under the rules in the header. */
function fits(f: Fault, placed: readonly Fault[]): boolean {
  const backend = (k: FaultKind) => BACKEND_FAULTS.includes(k);
  for (const g of placed) {
    const clearVsExcusing =
      (f.clear && EXCUSING_FAULTS.includes(g.kind)) || (g.clear && EXCUSING_FAULTS.includes(f.kind));
    // Restarts and broker recoveries take seconds beyond a fault's own end: a wide berth.
    if (clearVsExcusing && overlaps(f, g, 10_000)) return false;
    if (backend(f.kind) && backend(g.kind) && f.target === g.target && overlaps(f, g, 10_000)) return false;
    if (f.kind === g.kind && !backend(f.kind) && overlaps(f, g, 3_000)) return false;
    const nats = NATS_FAULTS.includes(f.kind) && NATS_FAULTS.includes(g.kind);
    const outage = f.kind === "broker-outage" || g.kind === "broker-outage";
    if (nats && outage && overlaps(f, g, 5_000)) return false;
    if (nats && f.target === g.target && overlaps(f, g, 5_000)) return false;
    const restartVsIpvs =
      (f.kind === "leader-kill" && g.kind === "ipvs-fail") ||
      (f.kind === "ipvs-fail" && g.kind === "leader-kill");
    if (restartVsIpvs && overlaps(f, g, 2_000)) return false;
    if (f.kind === "flood" && g.kind === "flood" && Math.abs(f.atMs - g.atMs) < 20_000) return false;
    // The flood goes through the broker (its figures mean nothing while the broker is down), and a
    // SIGHUP must reach a director that is up and past its start (before it, SIGHUP would end it).
    const floodVsNats =
      (f.kind === "flood" && NATS_FAULTS.includes(g.kind)) ||
      (g.kind === "flood" && NATS_FAULTS.includes(f.kind));
    if (floodVsNats && overlaps(f, g, 5_000)) return false;
    const hupVsRestart =
      (f.kind === "bad-config" && g.kind === "leader-kill") ||
      (g.kind === "bad-config" && f.kind === "leader-kill");
    if (hupVsRestart && overlaps(f, g, 15_000)) return false;
    // Deleting a bucket needs JetStream up (and its figures mean nothing while it is not); a second
    // incarnation of a director is started beside a running one, never beside a restart or a SIGHUP.
    const lossVsBroker =
      (f.kind === "bucket-loss" && (NATS_FAULTS.includes(g.kind) || g.kind === "flood")) ||
      (g.kind === "bucket-loss" && (NATS_FAULTS.includes(f.kind) || f.kind === "flood"));
    // JetStream takes seconds to elect its leaders again after a full outage: a wider berth from that.
    const afterOutage = f.kind === "broker-outage" || g.kind === "broker-outage";
    if (lossVsBroker && overlaps(f, g, afterOutage ? 15_000 : 5_000)) return false;
    const gapFromTwin: Partial<Record<FaultKind, number>> = {
      "leader-kill": 10_000,
      "bad-config": 5_000,
      "ipvs-fail": 2_000,
    };
    const other = f.kind === "director-twin" ? g.kind : g.kind === "director-twin" ? f.kind : undefined;
    const twinGap = other === undefined ? undefined : gapFromTwin[other];
    if (twinGap !== undefined && overlaps(f, g, twinGap)) return false;
  }
  if (backend(f.kind)) {
    // At most two backend faults at any moment: check at every fault start inside f.
    for (const t of [f.atMs, ...placed.map((g) => g.atMs)].filter(
      (t) => t >= f.atMs && t < f.atMs + f.durationMs,
    )) {
      const at = placed.filter((g) => backend(g.kind) && g.atMs <= t && t < g.atMs + g.durationMs + 6_000);
      if (at.length >= 2) return false;
    }
  }
  return true;
}

/**
 * The schedule of a seed. A timeline with no room left for a fault every run must have is drawn again from
 * the same seed's next stream (at most 20 times): still a function of the seed alone.
 */
export function buildSchedule(input: ScheduleInput): Schedule {
  let lastError: unknown;
  for (let draw = 0; draw < 20; draw++) {
    try {
      return drawSchedule(input, draw);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

function drawSchedule(input: ScheduleInput, draw: number): Schedule {
  const random = prng((input.seed + draw * 0x9e3779b9) >>> 0);
  const shape = SHAPE[input.mode];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const between = (lo: number, hi: number) => Math.round(lo + random() * (hi - lo));
  const [shortest, longest] = shape.faultMs;
  const last = shape.lengthMs - 15_000;
  // The clear backend faults come first, in the opening seconds; the faults that excuse a slow removal
  // start 10 s after they can have ended.
  const CLEAR_END_MS = 6_000 + longest;
  const draft = (kind: FaultKind, clear: boolean): Fault[] => {
    const atMs = clear
      ? between(2_000, 6_000)
      : between(EXCUSING_FAULTS.includes(kind) ? CLEAR_END_MS + 10_000 : 2_000, last);
    switch (kind) {
      case "backend-kill":
      case "backend-hang":
        return [{ kind, atMs, durationMs: between(shortest, longest), target: pick(input.realServers) }];
      case "backend-flap":
        return [
          { kind, atMs, durationMs: between(shortest + 1_000, longest), target: pick(input.realServers) },
        ];
      case "site-backend-cut":
      case "site-nats-cut":
        return [{ kind, atMs, durationMs: between(shortest, longest + 6_000), target: pick(input.sites) }];
      case "nats-node-kill":
      case "nats-node-pause": {
        // One node killed and another paused, together: a cluster left with one healthy node.
        const killed = between(0, input.natsNodes - 1);
        const paused = (killed + 1 + between(0, input.natsNodes - 2)) % input.natsNodes;
        const durationMs = between(shortest, longest + 2_000);
        return [
          { kind: "nats-node-kill", atMs, durationMs, target: String(killed) },
          { kind: "nats-node-pause", atMs: atMs + 1_000, durationMs, target: String(paused) },
        ];
      }
      case "broker-outage":
        return [
          {
            kind,
            atMs: between(CLEAR_END_MS + 10_000, shape.lengthMs - shape.outageMs - 15_000),
            durationMs: shape.outageMs,
          },
        ];
      case "leader-kill":
        return [{ kind, atMs, durationMs: between(3_000, 8_000) }];
      case "ipvs-fail":
        return [{ kind, atMs, durationMs: between(shortest, longest), target: input.flakyDirector }];
      case "bad-config":
        return [{ kind, atMs, durationMs: 0, target: pick(["lvs-a", "lvs-b"]) }];
      case "flood":
        return [{ kind, atMs, durationMs: 0, count: shape.floodCount }];
      case "bucket-loss":
        return [{ kind, atMs, durationMs: 0 }];
      case "director-twin":
        return [{ kind, atMs, durationMs: between(shortest - 1_000, longest - 2_000) }];
    }
  };
  const faults: Fault[] = [];
  // Every fault ends a second before the run does (a long one drawn late starts earlier).
  const within = (group: Fault[]) => {
    const over = Math.max(0, ...group.map((f) => f.atMs + f.durationMs - (shape.lengthMs - 1_000)));
    return over === 0 ? group : group.map((f) => ({ ...f, atMs: f.atMs - over }));
  };
  const place = (kind: FaultKind, clear = false) => {
    // Bounded retries: a crowded timeline gives up on an extra fault rather than loop.
    for (let attempt = 0; attempt < 400; attempt++) {
      const group = within(draft(kind, clear).map((f) => (clear ? { ...f, clear } : f)));
      if (
        group.every(
          (f) =>
            fits(f, faults) &&
            fits(
              f,
              group.filter((g) => g !== f),
            ),
        )
      ) {
        faults.push(...group);
        return true;
      }
    }
    return false;
  };
  // The most constrained first: the flood keeps clear of every broker fault and of bucket losses.
  const mandatory: FaultKind[] = [
    "broker-outage",
    "flood",
    "nats-node-kill",
    "bucket-loss",
    "leader-kill",
    "director-twin",
    "ipvs-fail",
    "site-backend-cut",
    "site-nats-cut",
    "bad-config",
    "backend-flap",
  ];
  // One kill and one hang in the clear: every run checks the removal bound.
  for (const kind of ["backend-kill", "backend-hang"] as const)
    if (!place(kind, true))
      throw new Error(`seed ${input.seed}: no clear room for a ${kind} in the ${input.mode} run`);
  for (const kind of mandatory)
    if (!place(kind))
      throw new Error(`seed ${input.seed}: no room for a ${kind} fault in the ${input.mode} run`);
  for (let i = 0; i < shape.extraBackend; i++) place(pick(BACKEND_FAULTS));
  const others: FaultKind[] = [
    "site-backend-cut",
    "site-nats-cut",
    "nats-node-kill",
    "leader-kill",
    "ipvs-fail",
    "bad-config",
  ];
  for (let i = 0; i < shape.extraOther; i++) for (const kind of others) place(kind);
  faults.sort((a, b) => a.atMs - b.atMs);
  const scale = input.scale ?? 1;
  const stretched = faults.map((f) => ({
    ...f,
    atMs: Math.round(f.atMs * scale),
    durationMs: Math.round(f.durationMs * scale),
  }));
  return {
    seed: input.seed,
    mode: input.mode,
    lengthMs: Math.round(shape.lengthMs * scale),
    faults: stretched,
  };
}

/** The most faults active at one moment. */
export function maxConcurrent(faults: readonly Fault[]): number {
  let most = 0;
  for (const f of faults) {
    const at = faults.filter((g) => g.atMs <= f.atMs && f.atMs < g.atMs + Math.max(g.durationMs, 1)).length;
    most = Math.max(most, at);
  }
  return most;
}
