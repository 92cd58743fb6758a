import { type Bus, createMemoryNetwork } from "@lvsq/bus";
import { parseConfig } from "@lvsq/config";
import { createMemoryDriver } from "@lvsq/ipvs";
import { type AdminRecord, buckets, kvKeys, subjects } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { DirectorAgent } from "./agent.js";
import { until, voteBatch } from "./test-support.js";

// An unpaired director and the admin overrides: it waits for one full read (so a disabled server does not
// come back at a restart), then keeps deciding on that view when reads fail (freezing would keep a dead
// server in its table), and on a NATS without JetStream, where no override can exist, it decides at once.
const config = parseConfig(
  `cluster: u
quorum: { startupGrace: 0s }
sites: [s]
probes: [{ id: p, site: s }]
directors: [{ id: d1 }]
services:
  web:
    vip: 192.0.2.1:80
    forwarding: nat
    realServers: [{ address: 198.51.100.1:80 }, { address: 198.51.100.2:80 }]
`,
  "unpaired-admin-test.yaml",
  { env: {} },
);
const silent = createLogger({ level: "silent" });
const agents: DirectorAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.stop()));
});

const votes = (down: readonly string[] = []) =>
  voteBatch(
    { cluster: "u", probe: "p", site: "s", service: "web" },
    ["198.51.100.1:80", "198.51.100.2:80"],
    down,
  );

function setUp(bus?: (real: Bus) => Bus) {
  const network = createMemoryNetwork();
  const operator = network.connect("operator");
  const kernel = createMemoryDriver();
  const inTable = async () =>
    ((await kernel.read()).services[0]?.realServers ?? []).map((r) => `${r.address}@${r.weight}`).sort();
  const start = async () => {
    const real = network.connect("d1");
    const agent = await DirectorAgent.start({
      config,
      directorId: "d1",
      bus: bus ? bus(real) : real,
      driver: kernel,
      logger: silent,
      adminRefreshMs: 50,
    });
    agents.push(agent);
    return agent;
  };
  return { network, operator, kernel, inTable, start };
}

describe("an unpaired director and the admin overrides", () => {
  it("waits for one full read of the overrides, then keeps deciding when reads fail", async () => {
    const { network, operator, inTable, start } = setUp();
    const disabled: AdminRecord = {
      v: 1,
      service: "web",
      rs: "198.51.100.2:80",
      action: "disable",
      author: "ops",
      reason: "test",
      at: Date.now(),
    };
    await (await operator.kv(buckets.admin("u"))).put(kvKeys.admin("web", "198.51.100.2:80"), disabled);
    network.setBucketFault(buckets.admin("u"), "unavailable");
    const agent = await start();
    operator.publish(subjects.votes("u", "p", "web"), votes());
    await new Promise((r) => setTimeout(r, 300));
    await agent.idle();
    // up votes alone do not bring in anything while the override that disables .2 is unknown
    expect(await inTable()).toEqual([]);
    network.setBucketFault(buckets.admin("u"), "ok");
    await until("only .1 in, .2 held out by its override", async () => {
      operator.publish(subjects.votes("u", "p", "web"), votes());
      return (await inTable()).join() === "198.51.100.1:80@1";
    });
    // the bucket goes away again: a real failure still leaves the table, the override still holds
    network.setBucketFault(buckets.admin("u"), "unavailable");
    await new Promise((r) => setTimeout(r, 300));
    await until("the failed .1 out", async () => {
      operator.publish(subjects.votes("u", "p", "web"), votes(["198.51.100.1:80"]));
      return (await inTable()).length === 0;
    });
  });

  it("decides on votes alone on a NATS server without JetStream", async () => {
    const { network, operator, inTable, start } = setUp((real) =>
      Object.assign(Object.create(real) as Bus, { hasJetStream: () => false }),
    );
    network.setBucketFault(buckets.admin("u"), "unavailable");
    await start();
    await until("both in", async () => {
      operator.publish(subjects.votes("u", "p", "web"), votes());
      return (await inTable()).length === 2;
    });
  });
});
