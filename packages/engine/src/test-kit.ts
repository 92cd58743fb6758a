import { type FleetConfig, parseConfig } from "@lvsq/config";
import type { IpvsTable, VoteBatch, VotePending, VoteState } from "@lvsq/protocol";
import type { DirectorState } from "./model.js";
import { initialState, type StepResult, step } from "./step.js";
import type { AdminCommand, EngineEvent, EngineInput } from "./types.js";

/**
 * Test helpers (used by the engine's own tests only): a small fleet config builder and a simulator that
 * feeds inputs at given times and keeps the events.
 */
export type ConfigInput = Record<string, unknown>;

export const RS1 = "10.0.0.1:80";
export const RS2 = "10.0.0.2:80";
export const RS3 = "10.0.0.3:80";
export const RS4 = "10.0.0.4:80";
export const FALLBACK = "127.0.0.1:80";

export function webService(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    vip: "192.0.2.10:80",
    scheduler: "wrr",
    realServers: [
      { address: RS1, weight: 1 },
      { address: RS2, weight: 3 },
    ],
    fallback: [{ address: FALLBACK, weight: 1 }],
    ...extra,
  };
}

/** Three sites with one probe each (p1@dc1, p2@dc2, p3@dc3), no startup grace, voteTtl 6 s. */
export function fleet(extra: ConfigInput = {}): FleetConfig {
  const input = {
    cluster: "test",
    quorum: { by: "site", voteTtl: "6s", startupGrace: "0s" },
    sites: ["dc1", "dc2", "dc3"],
    probes: [
      { id: "p1", site: "dc1" },
      { id: "p2", site: "dc2" },
      { id: "p3", site: "dc3" },
    ],
    services: { web: webService() },
    ...extra,
  };
  return parseConfig(JSON.stringify(input), "test.yaml", { env: {} });
}

export type VoteSpec =
  | VoteState
  | { state: VoteState; weight?: number; reason?: string; pending?: VotePending };

export class Sim {
  state: DirectorState;
  now: number;
  events: EngineEvent[] = [];
  last: StepResult | undefined;
  private readonly seq = new Map<string, number>();

  constructor(
    readonly config: FleetConfig,
    start = 1_000,
  ) {
    this.state = initialState(config, "lvs-a");
    this.now = start;
  }

  at(now: number): this {
    this.now = now;
    return this;
  }

  run(input: EngineInput): StepResult {
    const result = step(this.state, input);
    this.state = result.state;
    this.events.push(...result.events);
    this.last = result;
    return result;
  }

  batch(probe: string, service: string, votes: Record<string, VoteSpec>, seq?: number): VoteBatch {
    const next = seq ?? (this.seq.get(probe) ?? 0) + 1;
    this.seq.set(probe, Math.max(next, this.seq.get(probe) ?? 0));
    const site = this.config.probes.find((p) => p.id === probe)?.site ?? "nowhere";
    return {
      v: 1,
      cluster: this.config.cluster,
      probe,
      site,
      service,
      seq: next,
      sentAt: this.now,
      intervalMs: 2000,
      votes: Object.entries(votes).map(([rs, spec]) => {
        const v = typeof spec === "string" ? { state: spec } : spec;
        return {
          rs,
          state: v.state,
          since: this.now,
          latencyMs: 1,
          reason: "reason" in v && v.reason !== undefined ? v.reason : `${v.state} by ${probe}`,
          ...(v.weight === undefined ? {} : { weight: v.weight }),
          ...("pending" in v && v.pending ? { pending: v.pending } : {}),
        };
      }),
    };
  }

  /** One batch per probe: `{ p1: { [rs]: "up" } }`. */
  vote(byProbe: Record<string, Record<string, VoteSpec>>, service = "web"): StepResult {
    let result: StepResult | undefined;
    for (const [probe, votes] of Object.entries(byProbe)) {
      result = this.run({ type: "votes", batch: this.batch(probe, service, votes), now: this.now });
    }
    return result!;
  }

  /** Every probe of the fleet votes the same for the given servers. */
  all(votes: Record<string, VoteSpec>, service = "web"): StepResult {
    return this.vote(Object.fromEntries(this.config.probes.map((p) => [p.id, votes])), service);
  }

  tick(): StepResult {
    return this.run({ type: "tick", now: this.now });
  }

  observe(table: IpvsTable): StepResult {
    return this.run({ type: "observed", table, now: this.now });
  }

  admin(command: AdminCommand): StepResult {
    return this.run({ type: "admin", command, now: this.now });
  }

  reload(config: FleetConfig): StepResult {
    return this.run({ type: "config", config, now: this.now });
  }

  /** `{ address: weight }` of one service in the desired table; undefined when the service is absent. */
  table(service = "web"): Record<string, number> | undefined {
    const svc = this.state.services.get(service);
    const entry = svc && this.state.desired.services.find((s) => s.key === svc.key);
    if (entry === undefined) return undefined;
    return Object.fromEntries(entry.realServers.map((rs) => [rs.address, rs.weight]));
  }

  types(): string[] {
    return this.events.map((event) => event.type);
  }

  take(): string[] {
    const types = this.types();
    this.events = [];
    return types;
  }
}

export function kernelTable(services: Record<string, Record<string, number>>): IpvsTable {
  return {
    services: Object.entries(services).map(([address, servers]) => ({
      key: `tcp ${address}`,
      protocol: "tcp",
      address,
      family: "inet",
      scheduler: "wrr",
      realServers: Object.entries(servers).map(([rs, weight]) => ({ address: rs, forwarding: "dr", weight })),
    })),
  };
}

/** A scenario of the decision table: inputs at times, then the expected table of "web" and event types. */
export type ScenarioExpect = { table?: Record<string, number>; events?: string[] };
export type ScenarioStage = { at: number; run: (sim: Sim) => void; expect: ScenarioExpect };
export type Scenario = { name: string; config?: Record<string, unknown>; stages: ScenarioStage[] };

export const up2 = { [RS1]: "up", [RS2]: "up" } as const;
export const rs1Down = { [RS1]: "down", [RS2]: "up" } as const;
export const allDown = { [RS1]: "down", [RS2]: "down" } as const;

/** Runs a scenario, handing each stage's table and event types to `check` (the test's expect). */
export function playScenario(
  { config, stages }: Scenario,
  check: (
    where: string,
    table: Record<string, number> | undefined,
    types: string[],
    expected: ScenarioExpect,
  ) => void,
): void {
  const sim = new Sim(fleet(config));
  stages.forEach((stage, index) => {
    sim.at(stage.at);
    stage.run(sim);
    check(`stage ${index} at ${stage.at}`, sim.table(), sim.take(), stage.expect);
  });
}
