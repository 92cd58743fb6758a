import { createMemoryNetwork } from "@lvsq/bus";
import { parseConfig } from "@lvsq/config";
import { createMemoryDriver } from "@lvsq/ipvs";
import { type AdminRecord, buckets, kvKeys, subjects } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { DirectorAgent } from "./agent.js";
import { type DrainCount, drainVerdicts, type PartnerDrains } from "./drain-watch.js";
import { until, voteBatch } from "./test-support.js";

const RS = "198.51.100.2:80";
const own = (connections: number | null): DrainCount[] => [{ service: "web", rs: RS, connections }];
const report = (connections: number | null, receivedAt: number): Map<string, PartnerDrains> =>
  new Map([["b", { director: "b", drains: own(connections), receivedAt }]]);

describe("when a drain is over", () => {
  it("alone: when this kernel holds no connections for it at weight 0", () => {
    expect(drainVerdicts(own(0), [], new Map(), 0, 5000)[0]).toMatchObject({ done: true });
    expect(drainVerdicts(own(3), [], new Map(), 0, 5000)[0]).toMatchObject({
      done: false,
      why: "3 connection(s) left in this kernel",
    });
    expect(drainVerdicts(own(null), [], new Map(), 0, 5000)[0]?.done).toBe(false);
  });

  it("in a pair: only when every partner's fresh heartbeat says 0 as well", () => {
    const now = 100_000;
    expect(drainVerdicts(own(0), ["b"], report(0, now - 1000), now, 5000)[0]).toMatchObject({
      done: true,
      why: "drained: no connections left in the pair",
    });
    // the VRRP-active partner still carries connections
    expect(drainVerdicts(own(0), ["b"], report(7, now - 1000), now, 5000)[0]).toMatchObject({
      done: false,
      why: "7 connection(s) left in b's kernel",
    });
    // a silent partner may be serving: its silence never ends a drain
    expect(drainVerdicts(own(0), ["b"], report(0, now - 6000), now, 5000)[0]?.why).toMatch(
      /^waiting for b to report/,
    );
    expect(drainVerdicts(own(0), ["b"], new Map(), now, 5000)[0]?.done).toBe(false);
    expect(drainVerdicts(own(0), ["b"], report(null, now), now, 5000)[0]?.why).toBe(
      "waiting for b: not at weight 0 in its kernel yet",
    );
    const old = new Map([["b", { director: "b", drains: undefined, receivedAt: now }]]);
    expect(drainVerdicts(own(0), ["b"], old, now, 5000)[0]?.done).toBe(false);
  });
});

const config = parseConfig(
  `cluster: t
quorum: { startupGrace: 0s }
director: { leaseTtl: 1s }
sites: [s]
probes: [{ id: p, site: s }]
directors: [{ id: a, pair: edge }, { id: b, pair: edge }]
services:
  web:
    vip: 192.0.2.1:80
    forwarding: nat
    realServers: [{ address: 198.51.100.1:80 }, { address: ${RS}, weight: 3 }]
`,
  "pair-drains-test.yaml",
  { env: {} },
);
const silent = createLogger({ level: "silent" });
const agents: DirectorAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.stop()));
});

describe("a pair ends a drain without a deadline", () => {
  it("takes the server out only once neither director's kernel holds its connections", async () => {
    const network = createMemoryNetwork();
    const operator = network.connect("operator");
    const open = { a: new Map([[RS, 4]]), b: new Map([[RS, 4]]) };
    const kernels = { a: createMemoryDriver(), b: createMemoryDriver() };
    for (const id of ["a", "b"] as const) {
      const memory = kernels[id];
      const agent = await DirectorAgent.start({
        config,
        directorId: id,
        bus: network.connect(id),
        driver: {
          read: () => memory.read(),
          apply: (ops) => memory.apply(ops),
          connections: async () => new Map([["tcp 192.0.2.1:80", new Map(open[id])]]),
        },
        logger: silent,
        heartbeatMs: 50,
      });
      agents.push(agent);
    }
    const weights = async () =>
      Promise.all(
        (["a", "b"] as const).map(
          async (id) =>
            (await kernels[id].read()).services[0]?.realServers.find((r) => r.address === RS)?.weight,
        ),
      );
    const allUp = () =>
      voteBatch({ cluster: "t", probe: "p", site: "s", service: "web" }, ["198.51.100.1:80", RS]);
    await until("a leader and both tables with the server in", async () => {
      operator.publish(subjects.votes("t", "p", "web"), allUp());
      const roles = agents.map((agent) => agent.role).sort();
      return roles.join() === "follower,leader" && (await weights()).every((w) => w === 3);
    });
    const leader = agents.find((agent) => agent.role === "leader")!;
    const follower = agents.find((agent) => agent.role === "follower")!;
    const followerId = follower === agents[0] ? "a" : "b";
    const record: AdminRecord = {
      v: 1,
      service: "web",
      rs: RS,
      action: "drain",
      author: "ops",
      reason: "test",
      at: Date.now(),
    };
    await (await operator.kv(buckets.admin("t"))).put(kvKeys.admin("web", RS), record);
    await until("both at weight 0", async () => (await weights()).every((w) => w === 0));

    // the leader's kernel is empty of connections, its partner's (the VRRP-active node, say) is not
    open[followerId === "a" ? "b" : "a"].set(RS, 0);
    const partnerReports = async () => {
      await follower.checkDrains();
      await new Promise((r) => setTimeout(r, 120)); // two heartbeats
      await leader.checkDrains();
      await leader.idle();
    };
    await partnerReports();
    await partnerReports();
    expect(await weights()).toEqual([0, 0]);

    open[followerId].set(RS, 0);
    await until("out of both tables", async () => {
      await partnerReports();
      return (await weights()).every((w) => w === undefined);
    });
    expect(leader.explain("web", RS)?.realServers[0]?.rule).toBe("admin-disable");
  }, 20_000);
});
