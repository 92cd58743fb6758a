import { describe, expect, it } from "vitest";
import {
  allDown,
  FALLBACK,
  playScenario,
  RS1,
  RS2,
  RS3,
  rs1Down,
  type Scenario,
  up2,
  webService,
} from "./test-kit.js";

/** More of the decision table: quorum by probe, per-service probes, exec weights, minUpWeight, thresholds. */
const optionScenarios: Scenario[] = [
  {
    name: "by: probe counts each probe's vote, not site verdicts (2 of 3 probes, same site)",
    config: {
      quorum: { by: "probe", voteTtl: "6s", startupGrace: "0s" },
      sites: ["dc1", "dc2"],
      probes: [
        { id: "p1", site: "dc1" },
        { id: "p2", site: "dc1" },
        { id: "p3", site: "dc2" },
      ],
    },
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 2000,
        run: (s) => s.vote({ p1: rs1Down, p2: rs1Down }),
        expect: { table: { [RS2]: 3 }, events: ["rs-down"] },
      },
    ],
  },
  {
    name: "by: site, two probes in one site split 1-1 → no site verdict",
    config: {
      sites: ["dc1", "dc2"],
      probes: [
        { id: "p1", site: "dc1" },
        { id: "p2", site: "dc1" },
        { id: "p3", site: "dc2" },
      ],
    },
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 2000,
        run: (s) => s.vote({ p1: rs1Down, p3: rs1Down }),
        expect: { table: { [RS1]: 1, [RS2]: 3 }, events: ["quorum-unreachable"] },
      },
      {
        at: 3000,
        run: (s) => s.vote({ p2: rs1Down }),
        expect: { table: { [RS2]: 3 }, events: ["rs-down", "quorum-restored"] },
      },
    ],
  },
  {
    name: "a service checked by p1 and p2 only: quorum over their 2 sites, p3's votes dropped",
    config: { services: { web: webService({ probes: ["p1", "p2"] }) } },
    stages: [
      { at: 1000, run: (s) => s.vote({ p1: up2, p2: up2 }), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 2000,
        run: (s) => s.vote({ p3: allDown }),
        expect: { table: { [RS1]: 1, [RS2]: 3 }, events: [] },
      },
      {
        at: 3000,
        run: (s) => s.vote({ p1: rs1Down }),
        expect: { table: { [RS1]: 1, [RS2]: 3 }, events: ["quorum-unreachable"] },
      },
      {
        at: 4000,
        run: (s) => s.vote({ p2: rs1Down }),
        expect: { table: { [RS2]: 3 }, events: ["rs-down", "quorum-restored"] },
      },
    ],
  },
  {
    name: "exec checks set the weight: the lower median of the probes' weights",
    stages: [
      {
        at: 1000,
        run: (s) =>
          s.vote({
            p1: { [RS1]: { state: "up", weight: 10 } },
            p2: { [RS1]: { state: "up", weight: 20 } },
            p3: { [RS1]: { state: "up", weight: 90 } },
          }),
        expect: { table: { [RS1]: 20 }, events: ["rs-up", "fallback-off", "weight-changed"] },
      },
      {
        at: 2000,
        run: (s) => s.vote({ p2: { [RS1]: { state: "up", weight: 5 } } }),
        expect: { table: { [RS1]: 10 }, events: ["weight-changed"] },
      },
    ],
  },
  {
    name: "minUpWeight 4 ± 1: fallback in below 3, out at 5 or more",
    config: {
      services: {
        web: webService({
          realServers: [
            { address: RS1, weight: 2 },
            { address: RS2, weight: 2 },
            { address: RS3, weight: 1 },
          ],
          minUpWeight: { weight: 4, hysteresis: 1 },
        }),
      },
    },
    stages: [
      {
        at: 1000,
        run: (s) => s.all({ [RS1]: "up", [RS2]: "up", [RS3]: "up" }),
        expect: {
          table: { [RS1]: 2, [RS2]: 2, [RS3]: 1 },
          events: ["rs-up", "rs-up", "rs-up", "fallback-off"],
        },
      },
      {
        at: 2000,
        run: (s) => s.all({ [RS3]: "down" }),
        expect: { table: { [RS1]: 2, [RS2]: 2 }, events: ["rs-down"] },
      },
      {
        at: 3000,
        run: (s) => s.all({ [RS2]: "down" }),
        expect: { table: { [RS1]: 2, [FALLBACK]: 1 }, events: ["rs-down", "fallback-on"] },
      },
      {
        at: 4000,
        run: (s) => s.all({ [RS2]: "up" }),
        expect: { table: { [RS1]: 2, [RS2]: 2, [FALLBACK]: 1 }, events: ["rs-up"] },
      },
      {
        at: 5000,
        run: (s) => s.all({ [RS3]: "up" }),
        expect: { table: { [RS1]: 2, [RS2]: 2, [RS3]: 1 }, events: ["rs-up", "fallback-off"] },
      },
    ],
  },
  {
    name: "thresholds up: 1, down: 1 — both reached is a conflict and keeps the state",
    config: { quorum: { by: "site", up: 1, down: 1, voteTtl: "6s", startupGrace: "0s" } },
    stages: [
      { at: 1000, run: (s) => s.vote({ p1: up2 }), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 2000,
        run: (s) => s.vote({ p2: rs1Down }),
        expect: { table: { [RS1]: 1, [RS2]: 3 }, events: ["quorum-unreachable"] },
      },
      {
        at: 3000,
        run: (s) => s.vote({ p1: rs1Down }),
        expect: { table: { [RS2]: 3 }, events: ["rs-down", "quorum-restored"] },
      },
    ],
  },
  {
    name: 'down: "100%" (all sites) — two sites down are not enough',
    config: { quorum: { by: "site", down: "100%", voteTtl: "6s", startupGrace: "0s" } },
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 2000,
        run: (s) => s.vote({ p1: rs1Down, p2: rs1Down }),
        expect: { table: { [RS1]: 1, [RS2]: 3 }, events: ["quorum-unreachable"] },
      },
      {
        at: 3000,
        run: (s) => s.vote({ p3: rs1Down }),
        expect: { table: { [RS2]: 3 }, events: ["rs-down", "quorum-restored"] },
      },
    ],
  },
];

describe("decision scenarios: options", () => {
  it.each(optionScenarios)("$name", (scenario) => {
    playScenario(scenario, (where, table, types, expected) => {
      if (expected.table) expect(table, where).toEqual(expected.table);
      if (expected.events) expect(types, where).toEqual(expected.events);
    });
  });
});
