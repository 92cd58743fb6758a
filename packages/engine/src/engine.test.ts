import { sortTable } from "@lvsq/protocol";
import { describe, expect, it } from "vitest";
import { desiredEntry, explain, ownedServiceKeys, serviceReasons, voteCounters } from "./index.js";
import { FALLBACK, fleet, kernelTable, RS1, RS2, RS3, rs1Down, Sim, up2, webService } from "./test-kit.js";

describe("events carry the numbers and the deciding votes", () => {
  it("rs-down says how many sites voted what and how old each vote was", () => {
    const sim = new Sim(fleet());
    sim.at(1000).all(up2);
    sim.take();
    sim.at(2000).vote({ p1: rs1Down });
    sim.at(2500).vote({ p2: { [RS1]: { state: "down", reason: "HTTP 503" } } });
    expect(sim.events).toEqual([
      {
        type: "rs-down",
        action: "remove",
        service: "web",
        rs: RS1,
        tally: { by: "site", up: 1, down: 2, total: 3, upNeeded: 2, downNeeded: 2 },
        votes: [
          { probe: "p1", site: "dc1", state: "down", ageMs: 500, reason: "down by p1" },
          { probe: "p2", site: "dc2", state: "down", ageMs: 0, reason: "HTTP 503" },
          { probe: "p3", site: "dc3", state: "up", ageMs: 1500, reason: "up by p3" },
        ],
      },
    ]);
    // Events go on the wire inside EventEnvelope: they must survive JSON.
    expect(JSON.parse(JSON.stringify(sim.events))).toEqual(sim.events);
  });

  it("fallback-on and removal-limited carry their numbers", () => {
    const config = fleet({
      services: { web: webService({ removalLimit: { max: "50%", per: "30s" } }) },
    });
    const sim = new Sim(config);
    sim.at(1000).all(up2);
    sim.take();
    sim.at(2000).vote({ p1: { [RS1]: "down", [RS2]: "down" }, p2: { [RS1]: "down" } });
    expect(sim.take()).toEqual(["rs-down"]);
    sim.at(2100).vote({ p2: { [RS2]: "down" } });
    expect(sim.types()).toEqual(["rs-down", "fallback-on"]);
    // Every server genuinely down: the limit steps aside so the fallback can go in.
    expect(sim.table()).toEqual({ [FALLBACK]: 1 });
    expect(sim.events.find((e) => e.type === "fallback-on")).toEqual({
      type: "fallback-on",
      service: "web",
      healthyWeight: 0,
      upServers: 0,
      minUpWeight: null,
      hysteresis: 0,
      servers: [FALLBACK],
    });
  });

  it("removal-limited says when the next removal may happen", () => {
    const config = fleet({
      quorum: { by: "site", voteTtl: "60s", startupGrace: "0s" },
      services: {
        web: webService({
          realServers: [RS1, RS2, RS3].map((address) => ({ address, weight: 1 })),
          removalLimit: { max: 1, per: "30s" },
        }),
      },
    });
    const sim = new Sim(config);
    sim.at(1000).all({ [RS1]: "up", [RS2]: "up", [RS3]: "up" });
    sim.take();
    sim.at(2000).all({ [RS1]: "down", [RS2]: "down" });
    const limited = sim.events.find((e) => e.type === "removal-limited");
    expect(limited).toMatchObject({ rs: RS2, removedInWindow: 1, max: 1, perMs: 30_000, retryAt: 32_000 });
    expect(explain(sim.state, "web", RS2, 2000)?.realServers[0]?.rule).toBe("removal-limited");
  });
});

describe("the hot path", () => {
  it("says changed only when desired changed, and reuses unchanged service objects", () => {
    const config = fleet({
      services: { web: webService(), api: { vip: "192.0.2.20:80", realServers: [{ address: RS3 }] } },
    });
    const sim = new Sim(config);
    sim.at(1000).all(up2);
    sim.all({ [RS3]: "up" }, "api");
    const before = sim.state.desired;
    const api = before.services.find((s) => s.key === "tcp 192.0.2.20:80");
    const same = sim.at(2000).all(up2);
    expect(same.changed).toBe(false);
    expect(same.desired).toBe(before);
    const flip = sim.at(3000).all(rs1Down);
    expect(flip.changed || sim.state.desired !== before).toBe(true);
    expect(sim.state.desired.services.find((s) => s.key === "tcp 192.0.2.20:80")).toBe(api);
    expect(sim.state.desired).toEqual(sortTable(sim.state.desired));
  });

  it("reports dropped batches and counts them", () => {
    const sim = new Sim(fleet());
    sim.at(1000).all(up2);
    expect(sim.all({ "10.9.9.9:80": "down", [RS1]: "up" }).dropped).toEqual({
      reason: "unknown-real-server",
      votes: 1,
      detail: "10.9.9.9:80",
    });
    const replay = sim.run({ type: "votes", batch: sim.batch("p1", "web", up2, 1), now: 1000 });
    expect(replay.dropped?.reason).toBe("replayed-seq");
    expect(sim.all(up2, "nope").dropped?.reason).toBe("unknown-service");
    const counters = voteCounters(sim.state);
    expect(counters.batches).toBe(6);
    expect(counters.votes).toBe(9);
    expect(counters.dropped).toMatchObject({
      "unknown-real-server": 3,
      "replayed-seq": 1,
      "unknown-service": 3,
    });
  });

  it("a dropped batch with a huge seq does not silence the probe it names (forged unknown service)", () => {
    const sim = new Sim(fleet());
    sim.at(1000).all(up2);
    const forged = sim.run({ type: "votes", batch: sim.batch("p1", "nope", up2, 9e15), now: 1000 });
    expect(forged.dropped?.reason).toBe("unknown-service");
    const real = sim.run({
      type: "votes",
      batch: sim.batch("p1", "web", { [RS1]: "up", [RS2]: "up" }, 50),
      now: 1100,
    });
    expect(real.dropped).toBeUndefined();
  });

  it("accepts real server addresses in non-canonical spelling", () => {
    const config = fleet({
      services: {
        web: webService({
          realServers: [{ address: "[2001:db8::1]:80" }],
          vip: "[2001:db8::a]:80",
          fallback: [],
        }),
      },
    });
    const sim = new Sim(config);
    sim.at(1000).all({ "[2001:DB8:0::1]:80": "up" });
    expect(sim.table()).toEqual({ "[2001:db8::1]:80": 1 });
  });

  it("treats an earlier now as the latest seen (time never runs backwards)", () => {
    const sim = new Sim(fleet());
    sim.at(5000).all(up2);
    sim.at(1000).tick();
    sim.at(11_000).tick();
    expect(sim.types()).not.toContain("stale");
    sim.at(11_001).tick();
    expect(sim.types()).toContain("stale");
  });
});

describe("the desired table", () => {
  it("maps scheduler, flags, persistence, fwmark and forwarding from the config", () => {
    const config = fleet({
      services: {
        web: webService({ persistence: "301s", persistenceNetmask: "255.255.255.0", forwarding: "nat" }),
        mark: {
          fwmark: 7,
          scheduler: "sh",
          schedFlags: ["sh-port"],
          realServers: [{ address: RS3, weight: 2, forwarding: "tunnel", upperThreshold: 100 }],
        },
      },
    });
    const sim = new Sim(config);
    sim.at(1000).all(up2);
    // A tunnelled packet keeps its port: the kernel holds the server as 10.0.0.3:0 in a fwmark service.
    sim.all({ "10.0.0.3:0": "up" }, "mark");
    expect(desiredEntry(sim.state, "mark")).toEqual({
      key: "fwmark 7",
      protocol: "tcp",
      fwmark: 7,
      family: "inet",
      scheduler: "sh",
      schedFlags: ["sh-port"],
      realServers: [{ address: "10.0.0.3:0", forwarding: "tunnel", weight: 2, upperThreshold: 100 }],
    });
    expect(desiredEntry(sim.state, "web")).toMatchObject({
      key: "tcp 192.0.2.10:80",
      address: "192.0.2.10:80",
      persistence: { timeoutS: 301, netmask: "255.255.255.0" },
      realServers: [
        { address: RS1, forwarding: "nat", weight: 1 },
        { address: RS2, forwarding: "nat", weight: 3 },
      ],
    });
    expect(ownedServiceKeys(config)).toEqual(new Set(["fwmark 7", "tcp 192.0.2.10:80"]));
  });

  it("starts with the fallback in for services with no votes and no kernel state", () => {
    const sim = new Sim(fleet());
    expect(sim.table()).toEqual({ [FALLBACK]: 1 });
    expect(serviceReasons(sim.state, "web", 0)).toEqual([
      { rs: RS1, rule: "initial" },
      { rs: RS2, rule: "initial" },
    ]);
  });
});

describe("startup", () => {
  const graceConfig = fleet({ quorum: { by: "site", voteTtl: "6s", startupGrace: "10s" } });

  it("adopts the kernel's weights and fallback, keeps them through grace, and ignores foreign services", () => {
    const sim = new Sim(graceConfig);
    const result = sim.at(1000).observe(
      kernelTable({
        "192.0.2.10:80": { [RS1]: 0, [FALLBACK]: 1 },
        "198.51.100.7:80": { [RS3]: 1 },
      }),
    );
    expect(result.desired.services.map((s) => s.key)).toEqual(["tcp 192.0.2.10:80"]);
    expect(sim.table()).toEqual({ [RS1]: 0, [FALLBACK]: 1 });
    expect(explain(sim.state, "web", RS1, 1000)?.realServers[0]?.rule).toBe("startup-grace");
    sim.at(2000).all(up2);
    // Grace keeps the kernel's table both ways: RS1 (weight 0) and RS2 (absent) may be drained or disabled
    // by an operator whose override has not reached the director yet, so up votes do not bring them in.
    expect(sim.table()).toEqual({ [RS1]: 0, [FALLBACK]: 1 });
    expect(explain(sim.state, "web", RS2, 2000)?.realServers[0]?.rule).toBe("startup-grace");
    sim.at(8000).all(up2);
    sim.at(11_000).tick();
    expect(sim.table()).toEqual({ [RS1]: 1, [RS2]: 3 });
    expect(sim.types()).toEqual(["rs-up", "rs-up", "fallback-off"]);
  });

  it("does not let a later kernel read override a quorum verdict", () => {
    const sim = new Sim(fleet());
    sim.at(1000).all(up2);
    sim.observe(kernelTable({ "192.0.2.10:80": {} }));
    expect(sim.table()).toEqual({ [RS1]: 1, [RS2]: 3 });
    sim.observe(kernelTable({ "192.0.2.10:80": { [RS1]: 9 } }));
    expect(sim.table()).toEqual({ [RS1]: 1, [RS2]: 3 });
  });
});
