import type { FleetConfig } from "@lvsq/config";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ownedServiceKeys } from "./model.js";
import { type ConfigInput, fleet, kernelTable, Sim, type VoteSpec } from "./test-kit.js";
import type { AdminCommand } from "./types.js";

/** Bounded so the whole engine suite stays well under 30 s. */
const RUNS = { numRuns: 120 };

type Shape = { sites: number; probesPerSite: number; by: "site" | "probe"; services: ServiceShape[] };
type ServiceShape = { servers: number; fallback: boolean; quiesce: boolean };

const serviceShape = fc.record({
  servers: fc.integer({ min: 1, max: 5 }),
  fallback: fc.boolean(),
  quiesce: fc.boolean(),
});

function address(service: number, server: number): string {
  return `10.${service}.0.${server + 1}:80`;
}

function buildConfig(
  shape: Shape,
  extra: (service: number) => Record<string, unknown> = () => ({}),
  startupGrace = "0s",
): FleetConfig {
  const sites = Array.from({ length: shape.sites }, (_, s) => `dc${s}`);
  const probes = sites.flatMap((site, s) =>
    Array.from({ length: shape.probesPerSite }, (_, p) => ({ id: `p${s}-${p}`, site })),
  );
  const services = Object.fromEntries(
    shape.services.map((svc, i) => [
      `svc${i}`,
      {
        vip: `192.0.2.${i + 1}:80`,
        onDown: svc.quiesce ? "quiesce" : "remove",
        realServers: Array.from({ length: svc.servers }, (_, r) => ({
          address: address(i, r),
          weight: r + 1,
        })),
        fallback: svc.fallback ? [{ address: `127.0.0.${i + 1}:80`, weight: 1 }] : [],
        ...extra(i),
      },
    ]),
  );
  const input: ConfigInput = {
    quorum: { by: shape.by, voteTtl: "6s", startupGrace },
    sites,
    probes,
    services,
  };
  return fleet(input);
}

const shapes = fc.record({
  sites: fc.integer({ min: 1, max: 5 }),
  probesPerSite: fc.integer({ min: 1, max: 2 }),
  by: fc.constantFrom("site" as const, "probe" as const),
  services: fc.array(serviceShape, { minLength: 1, maxLength: 3 }),
});

const voteState = fc.constantFrom<VoteSpec>("up", "down", "abstain");

describe("engine invariants (fast-check)", () => {
  it("(1) staling or flipping the votes of any minority of sites never changes the desired table", () => {
    const scenario = shapes
      .filter((s) => s.by === "site")
      .chain((shape) =>
        fc.record({
          shape: fc.constant(shape),
          truth: fc.array(fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), {
            minLength: 3,
            maxLength: 3,
          }),
          minority: fc.subarray(
            Array.from({ length: shape.sites }, (_, s) => s),
            { maxLength: Math.floor((shape.sites - 1) / 2) },
          ),
          flips: fc.array(fc.option(voteState, { nil: undefined }), { minLength: 40, maxLength: 40 }),
        }),
      );
    fc.assert(
      fc.property(scenario, ({ shape, truth, minority, flips }) => {
        const config = buildConfig(shape);
        const sim = new Sim(config);
        const honest = (svc: number): Record<string, VoteSpec> =>
          Object.fromEntries(
            Array.from({ length: shape.services[svc]!.servers }, (_, r) => [
              address(svc, r),
              truth[svc]![r] ? "up" : "down",
            ]),
          );
        const round = (now: number, minorityVotes: "honest" | "flip" | "silent") => {
          sim.at(now);
          let f = 0;
          for (const probe of config.probes) {
            const inMinority = minority.includes(Number(probe.site.slice(2)));
            shape.services.forEach((_, svc) => {
              let votes: Record<string, VoteSpec> = honest(svc);
              if (inMinority && minorityVotes === "silent") return;
              if (inMinority && minorityVotes === "flip") {
                votes = Object.fromEntries(
                  Object.keys(votes).flatMap((rs) => {
                    const flip = flips[f++ % flips.length];
                    return flip === undefined ? [] : [[rs, flip]];
                  }),
                );
              }
              sim.vote({ [probe.id]: votes }, `svc${svc}`);
            });
          }
        };
        round(1000, "honest");
        const settled = sim.state.desired;
        round(3000, "flip");
        expect(sim.state.desired).toEqual(settled);
        round(5000, "silent");
        round(9000, "silent");
        sim.at(12_000).tick();
        expect(sim.state.desired).toEqual(settled);
      }),
      RUNS,
    );
  });

  /**
   * Arrival order is free across probes (each probe's own batches keep their seq order, as NATS keeps a
   * publisher's order). Two cases where the final votes alone decide: (a) a first round from a fresh state
   * (counts only grow, so a threshold once reached stays reached); (b) after a settled round, a round in
   * which an odd number of single-probe voters all vote up or down (the final tally is always decisive).
   * With a fail-static final tally, the state kept is the last decisive one, which arrival order may change.
   */
  it("(2) permuting vote arrival within a round never changes the desired table", () => {
    const decisive = fc.constantFrom<VoteSpec>("up", "down");
    const scenario = fc.tuple(shapes, fc.boolean()).chain(([shape, settled]) => {
      const probes = shape.by === "site" || settled ? 1 : shape.probesPerSite;
      // Settled case: one probe per site and an odd number of sites, so every tally is decisive.
      const sites = settled && shape.sites % 2 === 0 ? shape.sites + 1 : shape.sites;
      const final = { ...shape, sites, probesPerSite: probes };
      const batches = final.sites * final.probesPerSite * shape.services.length;
      const roundVotes = (state: fc.Arbitrary<VoteSpec>) =>
        fc.array(
          fc.array(fc.record({ state, weight: fc.option(fc.integer({ min: 1, max: 50 })) }), {
            minLength: 5,
            maxLength: 5,
          }),
          { minLength: batches, maxLength: batches },
        );
      return fc.record({
        shape: fc.constant(final),
        first: roundVotes(voteState),
        second: settled ? roundVotes(decisive) : fc.constant(undefined),
        order: fc.shuffledSubarray(
          Array.from({ length: batches }, (_, i) => i),
          { minLength: batches, maxLength: batches },
        ),
        seed: fc.integer(),
      });
    });
    type Round = { state: VoteSpec; weight: number | null }[][];
    fc.assert(
      fc.property(scenario, ({ shape, first, second, order, seed }) => {
        const config = buildConfig(shape);
        const batches = config.probes.flatMap((probe) =>
          shape.services.map((svc, s) => ({ probe: probe.id, service: `svc${s}`, servers: svc.servers })),
        );
        const send = (sim: Sim, votes: Round, sequence: number[], start: number) => {
          sequence.forEach((b, k) => {
            const { probe, service, servers } = batches[b]!;
            const entries = votes[b]!.slice(0, servers).map((v, r) => [
              address(Number(service.slice(3)), r),
              v.weight === null ? v.state : { state: v.state as "up", weight: v.weight },
            ]);
            // Votes inside a batch in a different order too.
            if ((seed + k) % 2 === 1) entries.reverse();
            sim.at(start + k).vote({ [probe]: Object.fromEntries(entries) }, service);
          });
        };
        const canonical = batches.map((_, i) => i);
        const feed = (sequence: number[]) => {
          const sim = new Sim(config);
          if (second === undefined) {
            send(sim, first, sequence, 1000);
          } else {
            send(sim, first, canonical, 1000);
            send(sim, second, sequence, 3000);
          }
          return sim.state.desired;
        };
        expect(feed(order)).toEqual(feed(canonical));
      }),
      RUNS,
    );
  });

  /** Random inputs of every kind, for the invariants that must hold after every single step. */
  const anyInputs = fc.array(
    fc.oneof(
      fc.record({
        kind: fc.constant("votes" as const),
        probe: fc.integer({ min: 0, max: 9 }),
        service: fc.integer({ min: 0, max: 3 }),
        states: fc.array(voteState, { minLength: 5, maxLength: 5 }),
      }),
      fc.record({ kind: fc.constant("tick" as const), advance: fc.integer({ min: 0, max: 8000 }) }),
      fc.record({
        kind: fc.constant("admin" as const),
        service: fc.integer({ min: 0, max: 3 }),
        server: fc.integer({ min: 0, max: 5 }),
        action: fc.constantFrom("drain" as const, "disable" as const, "enable" as const),
      }),
      fc.record({ kind: fc.constant("observed" as const), foreign: fc.boolean(), weight: fc.nat(3) }),
      fc.record({ kind: fc.constant("config" as const), which: fc.nat(1) }),
    ),
    { maxLength: 40 },
  );

  type Inputs = typeof anyInputs extends fc.Arbitrary<infer T> ? T : never;

  const extras = fc.record({
    limit: fc.boolean(),
    minUp: fc.boolean(),
    grace: fc.boolean(),
  });

  function play(
    shapes: [Shape, Shape],
    extra: { limit: boolean; minUp: boolean; grace: boolean },
    inputs: Inputs,
    check: (sim: Sim) => void,
  ) {
    const options = (service: number) => ({
      ...(extra.limit && service === 0 ? { removalLimit: { max: 1, per: "10s" } } : {}),
      ...(extra.minUp && service === 0 ? { minUpWeight: { weight: 3, hysteresis: 1 } } : {}),
    });
    const configs = shapes.map((shape) => buildConfig(shape, options, extra.grace ? "5s" : "0s"));
    const sim = new Sim(configs[0]!);
    let config = configs[0]!;
    check(sim);
    for (const input of inputs) {
      sim.at(sim.now + 500);
      if (input.kind === "votes") {
        const probe = config.probes[input.probe % config.probes.length]!.id;
        const votes = Object.fromEntries(input.states.map((state, r) => [address(input.service, r), state]));
        sim.vote({ [probe]: votes }, `svc${input.service}`);
      } else if (input.kind === "tick") {
        sim.at(sim.now + input.advance).tick();
      } else if (input.kind === "admin") {
        const command: AdminCommand = {
          service: `svc${input.service}`,
          rs: address(input.service, input.server),
          action: input.action,
        };
        sim.admin(command);
      } else if (input.kind === "observed") {
        sim.observe(
          kernelTable({
            "192.0.2.1:80": { [address(0, 0)]: input.weight, "10.99.0.1:80": 1 },
            ...(input.foreign ? { "198.51.100.9:80": { [address(0, 1)]: 1 } } : {}),
          }),
        );
      } else {
        config = configs[input.which]!;
        sim.reload(config);
      }
      check(sim);
    }
  }

  it("(3) a service with a fallback is never empty", () => {
    fc.assert(
      fc.property(fc.tuple(shapes, shapes), extras, anyInputs, (pair, extra, inputs) => {
        play(pair, extra, inputs, (sim) => {
          for (const svc of sim.state.byKey) {
            if (svc.config.fallback.length === 0) continue;
            const entry = sim.state.desired.services.find((s) => s.key === svc.key);
            const weight = entry?.realServers.reduce((sum, rs) => sum + rs.weight, 0) ?? 0;
            expect(weight, `${svc.id} at ${sim.now}`).toBeGreaterThan(0);
          }
        });
      }),
      RUNS,
    );
  });

  it("(4) desired never contains a service that the config does not own", () => {
    fc.assert(
      fc.property(fc.tuple(shapes, shapes), extras, anyInputs, (pair, extra, inputs) => {
        play(pair, extra, inputs, (sim) => {
          const owned = ownedServiceKeys(sim.state.config);
          const keys = sim.state.desired.services.map((s) => s.key);
          expect(new Set(keys)).toEqual(owned);
          expect(keys.length).toBe(owned.size);
        });
      }),
      RUNS,
    );
  });
});
