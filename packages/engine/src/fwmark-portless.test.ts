import { describe, expect, it } from "vitest";
import { fleet, Sim } from "./test-kit.js";

// A fwmark service's real servers without a port take the packet's own (ipvsadm shows them as ip:0).
const mail = {
  fwmark: 7,
  scheduler: "rr",
  check: { type: "tcp", port: 25 },
  realServers: [{ address: "198.51.100.31" }, { address: "198.51.100.32:0" }],
};

describe("real servers without a port (fwmark)", () => {
  it("are voted on and put in the table as ip:0", () => {
    const sim = new Sim(fleet({ services: { mail } }));
    sim.all({ "198.51.100.31:0": "up", "198.51.100.32:0": "up" }, "mail");
    expect(sim.table("mail")).toEqual({ "198.51.100.31:0": 1, "198.51.100.32:0": 1 });
    expect(sim.state.desired.services[0]).toMatchObject({ key: "fwmark 7", fwmark: 7 });
  });

  it("adopt the kernel's ip:0 entries at startup", () => {
    const sim = new Sim(
      fleet({ services: { mail }, quorum: { by: "site", voteTtl: "6s", startupGrace: "10s" } }),
    );
    sim.observe({
      services: [
        {
          key: "fwmark 7",
          protocol: "tcp",
          fwmark: 7,
          family: "inet",
          scheduler: "rr",
          realServers: [{ address: "198.51.100.31:0", forwarding: "dr", weight: 2 }],
        },
      ],
    });
    expect(sim.table("mail")).toEqual({ "198.51.100.31:0": 2 });
    sim.admin({ service: "mail", rs: "198.51.100.31", action: "disable" });
    expect(sim.table("mail")).toEqual({});
  });
});
