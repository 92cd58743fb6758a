import { describe, expect, it } from "vitest";
import { explain, serviceReasons } from "./index.js";
import { FALLBACK, fleet, RS1, RS2, RS3, rs1Down, Sim, up2, webService } from "./test-kit.js";

describe("config reload", () => {
  it("reloading the same config changes nothing and reuses the desired objects", () => {
    const config = fleet();
    const sim = new Sim(config);
    sim.at(1000).all(up2);
    const before = sim.state.desired;
    const result = sim.at(2000).reload(fleet());
    expect(result.changed).toBe(false);
    expect(result.events).toEqual([]);
    expect(result.desired).toBe(before);
  });

  it("keeps votes and decisions, drops removed services, adds new ones", () => {
    const sim = new Sim(fleet());
    sim.at(1000).all(up2);
    sim.admin({ service: "web", rs: RS2, action: "drain", deadline: 9000 });
    sim.take();
    const next = fleet({
      services: {
        web: webService({ realServers: [{ address: RS2, weight: 3 }, { address: RS3 }] }),
        api: { vip: "192.0.2.20:80", realServers: [{ address: RS1 }] },
      },
    });
    const result = sim.at(2000).reload(next);
    // RS1 left the config and RS2 is drained: no weight left, so the fallback goes in.
    expect(sim.table()).toEqual({ [RS2]: 0, [FALLBACK]: 1 });
    expect(sim.table("api")).toEqual({});
    expect(result.changedServices.sort()).toEqual(["api", "web"]);
    expect(sim.at(3000).vote({ p1: rs1Down }).dropped?.reason).toBe("unknown-real-server");
    sim.at(3500).all({ [RS3]: "up" });
    expect(sim.table()).toEqual({ [RS2]: 0, [RS3]: 1 });
    sim.at(9000).tick();
    expect(sim.table()).toEqual({ [RS3]: 1 });
    const removed = sim
      .at(4000)
      .reload(fleet({ services: { api: { vip: "192.0.2.20:80", realServers: [{ address: RS1 }] } } }));
    expect(removed.events).toContainEqual({
      type: "service-removed",
      service: "web",
      key: "tcp 192.0.2.10:80",
    });
    expect(removed.desired.services.map((s) => s.key)).toEqual(["tcp 192.0.2.20:80"]);
    expect(sim.state.ownedKeys).toEqual(new Set(["tcp 192.0.2.20:80"]));
  });
});

describe("explain", () => {
  it("shows votes by site and probe, the tally and the rule", () => {
    const sim = new Sim(fleet());
    sim.at(1000).all(up2);
    sim.at(1500).vote({ p1: { [RS1]: { state: "abstain", reason: "exec: not found" } } });
    sim.admin({ service: "web", rs: RS2, action: "disable", author: "ops", reason: "broken disk" });
    const view = explain(sim.state, "web", undefined, 2000)!;
    expect(view).toMatchObject({
      service: "web",
      key: "tcp 192.0.2.10:80",
      director: "lvs-a",
      by: "site",
      startupGrace: { active: false, endsAt: 1000 },
      fallback: { active: false, servers: [FALLBACK], minUpWeight: null },
      removalLimit: null,
    });
    expect(view.realServers[0]).toMatchObject({
      rs: RS1,
      in: true,
      weight: 1,
      health: "up",
      rule: "quorum-up",
      verdict: "up",
      since: 1000,
      tally: { up: 2, down: 0, total: 3 },
      sites: [
        {
          site: "dc1",
          verdict: "none",
          votes: [{ probe: "p1", state: "abstain", ageMs: 500, reason: "exec: not found" }],
        },
        { site: "dc2", verdict: "up", votes: [{ probe: "p2", state: "up", ageMs: 1000 }] },
        { site: "dc3", verdict: "up", votes: [{ probe: "p3", state: "up", ageMs: 1000 }] },
      ],
    });
    expect(view.realServers[1]).toMatchObject({ rs: RS2, in: false, weight: null, rule: "admin-disable" });
    expect(view.realServers[1]?.admin).toMatchObject({ action: "disable", author: "ops" });
    expect(explain(sim.state, "web", RS2, 9000)?.realServers[0]?.sites[1]?.votes[0]?.state).toBe("expired");
    expect(explain(sim.state, "nope", undefined, 0)).toBeUndefined();
    expect(explain(sim.state, "web", "10.9.9.9:80", 0)).toBeUndefined();
    expect(serviceReasons(sim.state, "nope", 0)).toEqual([]);
  });
});

describe("explain: a flip under way", () => {
  it("shows a down vote whose probe's last check succeeded as pending up, and the events carry it", () => {
    const sim = new Sim(fleet());
    sim.at(1000).all(up2);
    sim.at(2000).all({ [RS1]: "down" });
    const rising = {
      state: "down" as const,
      reason: "HTTP 200",
      pending: { state: "up" as const, count: 1, needed: 2 },
    };
    sim.at(3000).vote({ p1: { [RS1]: rising } });
    const vote = explain(sim.state, "web", RS1, 3000)!.realServers[0]!.sites[0]!.votes[0]!;
    expect(vote).toMatchObject({ probe: "p1", state: "down", reason: "HTTP 200", pending: rising.pending });
    // The flip never counts: the real server stays down on the votes' word.
    expect(sim.table()).toEqual({ [RS2]: 3 });
    // p2 and p3 see it up: quorum says up, and the rs-up event shows p1 still down, rising.
    sim.events = [];
    sim.at(4000).vote({ p2: { [RS1]: "up" }, p3: { [RS1]: "up" } });
    const event = sim.events.find((e) => e.type === "rs-up");
    expect(event && "votes" in event ? event.votes.find((v) => v.probe === "p1") : undefined).toMatchObject({
      state: "down",
      pending: rising.pending,
    });
    // Its next batch agrees with its last check: no flip under way any more.
    sim.at(4500).vote({ p1: { [RS1]: "up" } });
    expect(explain(sim.state, "web", RS1, 4500)!.realServers[0]!.sites[0]!.votes[0]).not.toHaveProperty(
      "pending",
    );
  });
});
