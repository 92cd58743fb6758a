import { describe, expect, it } from "vitest";
import { verdictsSince } from "./index.js";
import { fleet, RS1, RS2, Sim, up2 } from "./test-kit.js";

describe("verdictsSince: the verdict of the votes received since a moment", () => {
  it("counts only votes received since then, and names only servers up by quorum with no override", () => {
    const sim = new Sim(fleet());
    sim.at(1000).all(up2);
    // Newer votes: one site alone has voted again since 2000 : no quorum among them yet.
    sim.at(3000).vote({ p1: up2 });
    expect(verdictsSince(sim.state, "web", 2000, 3000)).toEqual(
      new Map([
        [RS1, "fail-static"],
        [RS2, "fail-static"],
      ]),
    );
    sim.at(3500).vote({ p2: up2 });
    expect(verdictsSince(sim.state, "web", 2000, 3500).get(RS1)).toBe("up");
    // Everything received since 500 is still within the vote TTL: all three sites count.
    expect(verdictsSince(sim.state, "web", 500, 3500).get(RS1)).toBe("up");
    // No evidence is newer than "now".
    expect(verdictsSince(sim.state, "web", 4000, 3500).get(RS1)).toBe("fail-static");
    sim.admin({ action: "disable", rs: RS2, service: "web" });
    expect([...verdictsSince(sim.state, "web", 2000, 3500).keys()]).toEqual([RS1]);
    expect(verdictsSince(sim.state, "nope", 2000, 3500).size).toBe(0);
  });

  it("leaves out a server the quorum has down", () => {
    const sim = new Sim(fleet());
    sim.at(1000).all(up2);
    sim.at(2000).all({ [RS1]: "down", [RS2]: "up" });
    expect([...verdictsSince(sim.state, "web", 1500, 2000).keys()]).toEqual([RS2]);
  });
});
