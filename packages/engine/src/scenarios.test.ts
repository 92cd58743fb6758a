import { describe, expect, it } from "vitest";
import {
  allDown,
  FALLBACK,
  kernelTable,
  playScenario,
  RS1,
  RS2,
  RS3,
  RS4,
  rs1Down,
  type Scenario,
  up2,
  webService,
} from "./test-kit.js";

/**
 * The decision rules as a table (docs/decisions.md): each scenario feeds inputs at times and checks the
 * desired table of service "web" ({ address: weight }) and the event types of each stage. Fleet: sites
 * dc1..dc3 with probes p1..p3, majority quorum by site, voteTtl 6 s, no startup grace unless a scenario
 * says so.
 */
const scenarios: Scenario[] = [
  {
    name: "the shell loop's story: one down → out, both down → fallback, one back → fallback out",
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      { at: 3000, run: (s) => s.all(rs1Down), expect: { table: { [RS2]: 3 }, events: ["rs-down"] } },
      {
        at: 5000,
        run: (s) => s.all(allDown),
        expect: { table: { [FALLBACK]: 1 }, events: ["rs-down", "fallback-on"] },
      },
      {
        at: 7000,
        run: (s) => s.all(rs1Down),
        expect: { table: { [RS2]: 3 }, events: ["rs-up", "fallback-off"] },
      },
      { at: 9000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 }, events: ["rs-up"] } },
    ],
  },
  {
    name: "3 sites, 1 partitioned (its probe sees all down) → nothing removed",
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 3000,
        run: (s) => s.vote({ p1: allDown, p2: up2, p3: up2 }),
        expect: { table: { [RS1]: 1, [RS2]: 3 }, events: [] },
      },
    ],
  },
  {
    name: "2 of 3 sites down → removed",
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 3000,
        run: (s) => s.vote({ p1: rs1Down, p2: rs1Down, p3: up2 }),
        expect: { table: { [RS2]: 3 }, events: ["rs-down"] },
      },
    ],
  },
  {
    name: "stale votes → unchanged, reported once as stale and quorum-unreachable",
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      { at: 7000, run: (s) => s.tick(), expect: { table: { [RS1]: 1, [RS2]: 3 }, events: [] } },
      {
        at: 7001,
        run: (s) => s.tick(),
        expect: {
          table: { [RS1]: 1, [RS2]: 3 },
          events: ["stale", "stale", "stale", "quorum-unreachable"],
        },
      },
      { at: 9000, run: (s) => s.tick(), expect: { table: { [RS1]: 1, [RS2]: 3 }, events: [] } },
      { at: 9500, run: (s) => s.all(up2), expect: { events: ["quorum-restored"] } },
    ],
  },
  {
    name: "abstentions never accuse: 1 down + 2 abstain keeps it; 2 down + 1 abstain removes it",
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 3000,
        run: (s) =>
          s.vote({
            p1: rs1Down,
            p2: { [RS1]: "abstain", [RS2]: "up" },
            p3: { [RS1]: "abstain", [RS2]: "up" },
          }),
        expect: { table: { [RS1]: 1, [RS2]: 3 }, events: ["quorum-unreachable"] },
      },
      {
        at: 5000,
        run: (s) => s.vote({ p2: rs1Down }),
        expect: { table: { [RS2]: 3 }, events: ["rs-down", "quorum-restored"] },
      },
    ],
  },
  {
    name: "quiesce: a down real server stays in at weight 0",
    config: { services: { web: webService({ onDown: "quiesce" }) } },
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 3000,
        run: (s) => s.all(rs1Down),
        expect: { table: { [RS1]: 0, [RS2]: 3 }, events: ["rs-down"] },
      },
      {
        at: 5000,
        run: (s) => s.all(allDown),
        expect: { table: { [RS1]: 0, [RS2]: 0, [FALLBACK]: 1 }, events: ["rs-down", "fallback-on"] },
      },
    ],
  },
  {
    name: "admin drain beats an up vote; enable hands it back to the votes",
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 2000,
        run: (s) => s.admin({ service: "web", rs: RS1, action: "drain", author: "ops", reason: "patching" }),
        expect: { table: { [RS1]: 0, [RS2]: 3 }, events: ["admin-applied"] },
      },
      { at: 3000, run: (s) => s.all(up2), expect: { table: { [RS1]: 0, [RS2]: 3 }, events: [] } },
      {
        at: 4000,
        run: (s) => s.admin({ service: "web", rs: RS1, action: "enable" }),
        expect: { table: { [RS1]: 1, [RS2]: 3 }, events: ["admin-applied"] },
      },
    ],
  },
  {
    name: "admin disable takes servers out; disabling every server brings the fallback in",
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 2000,
        run: (s) => s.admin({ service: "web", rs: RS1, action: "disable" }),
        expect: { table: { [RS2]: 3 }, events: ["admin-applied"] },
      },
      {
        at: 2001,
        run: (s) => s.admin({ service: "web", rs: RS1, action: "disable" }),
        expect: { table: { [RS2]: 3 }, events: [] },
      },
      {
        at: 2500,
        run: (s) => s.admin({ service: "web", rs: RS2, action: "disable" }),
        expect: { table: { [FALLBACK]: 1 }, events: ["admin-applied", "fallback-on"] },
      },
      {
        at: 2600,
        run: (s) => s.admin({ service: "nope", rs: RS2, action: "disable" }),
        expect: { table: { [FALLBACK]: 1 }, events: ["admin-rejected"] },
      },
      {
        at: 2700,
        run: (s) => s.admin({ service: "web", rs: "10.9.9.9:80", action: "enable" }),
        expect: { events: ["admin-rejected"] },
      },
    ],
  },
  {
    name: "a drain with a deadline becomes a disable when it passes",
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 2000,
        run: (s) => s.admin({ service: "web", rs: RS1, action: "drain", author: "ops", deadline: 5000 }),
        expect: { table: { [RS1]: 0, [RS2]: 3 } },
      },
      { at: 4999, run: (s) => s.tick(), expect: { table: { [RS1]: 0, [RS2]: 3 }, events: [] } },
      { at: 5000, run: (s) => s.tick(), expect: { table: { [RS2]: 3 }, events: ["admin-applied"] } },
      { at: 5001, run: (s) => s.tick(), expect: { events: [] } },
    ],
  },
  {
    name: "removal limit: 1 per 10 s, the rest wait for the next window with an event",
    config: {
      quorum: { by: "site", voteTtl: "60s", startupGrace: "0s" },
      services: {
        web: webService({
          realServers: [RS1, RS2, RS3, RS4].map((address) => ({ address, weight: 1 })),
          removalLimit: { max: 1, per: "10s" },
        }),
      },
    },
    stages: [
      {
        at: 1000,
        run: (s) => s.all({ [RS1]: "up", [RS2]: "up", [RS3]: "up", [RS4]: "up" }),
        expect: { table: { [RS1]: 1, [RS2]: 1, [RS3]: 1, [RS4]: 1 } },
      },
      {
        at: 2000,
        run: (s) => s.all({ [RS1]: "down", [RS2]: "down", [RS3]: "down", [RS4]: "up" }),
        expect: {
          table: { [RS2]: 1, [RS3]: 1, [RS4]: 1 },
          events: ["rs-down", "removal-limited", "removal-limited"],
        },
      },
      { at: 11_999, run: (s) => s.tick(), expect: { table: { [RS2]: 1, [RS3]: 1, [RS4]: 1 }, events: [] } },
      {
        at: 12_000,
        run: (s) => s.all({ [RS1]: "down", [RS2]: "down", [RS3]: "down", [RS4]: "up" }),
        expect: { table: { [RS3]: 1, [RS4]: 1 }, events: ["rs-down"] },
      },
      {
        at: 13_000,
        run: (s) => s.all({ [RS1]: "down", [RS2]: "down", [RS3]: "down", [RS4]: "down" }),
        expect: { table: { [FALLBACK]: 1 }, events: ["rs-down", "rs-down", "fallback-on"] },
      },
    ],
  },
  {
    name: "startup grace: the kernel's servers stay until grace ends; missing services are created",
    config: {
      quorum: { by: "site", voteTtl: "20s", startupGrace: "10s" },
      services: {
        web: webService(),
        api: { vip: "192.0.2.20:80", realServers: [{ address: RS3, weight: 2 }] },
      },
    },
    stages: [
      {
        at: 1000,
        run: (s) =>
          s.observe(
            kernelTable({
              "192.0.2.10:80": { [RS1]: 5, "10.0.0.99:80": 1 },
              "198.51.100.1:80": { [RS4]: 1 },
            }),
          ),
        expect: { table: { [RS1]: 5, "10.0.0.99:80": 1 }, events: ["service-created"] },
      },
      {
        at: 2000,
        run: (s) => s.all(allDown),
        expect: { table: { [RS1]: 5, "10.0.0.99:80": 1 }, events: [] },
      },
      {
        at: 11_000,
        run: (s) => s.tick(),
        expect: { table: { [FALLBACK]: 1 }, events: ["rs-down", "fallback-on"] },
      },
    ],
  },
  {
    name: "seq replay: a batch not newer than the probe's last is ignored",
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 2000,
        run: (s) => {
          for (const probe of ["p1", "p2"]) {
            s.run({ type: "votes", batch: s.batch(probe, "web", allDown, 1), now: s.now });
          }
        },
        expect: { table: { [RS1]: 1, [RS2]: 3 }, events: [] },
      },
    ],
  },
  {
    name: "a vote naming an unknown service, real server, probe or site is ignored",
    stages: [
      { at: 1000, run: (s) => s.all(up2), expect: { table: { [RS1]: 1, [RS2]: 3 } } },
      {
        at: 2000,
        run: (s) => {
          s.all(allDown, "nope");
          s.all({ "10.9.9.9:80": "down" });
          s.vote({ p9: allDown, p8: allDown });
          const batch = s.batch("p1", "web", allDown);
          s.run({ type: "votes", batch: { ...batch, site: "dc2" }, now: s.now });
          s.run({ type: "votes", batch: { ...batch, seq: 99, cluster: "other" }, now: s.now });
        },
        expect: { table: { [RS1]: 1, [RS2]: 3 }, events: [] },
      },
    ],
  },
];

describe("decision scenarios", () => {
  it.each(scenarios)("$name", (scenario) => {
    playScenario(scenario, (where, table, types, expected) => {
      if (expected.table) expect(table, where).toEqual(expected.table);
      if (expected.events) expect(types, where).toEqual(expected.events);
    });
  });
});
