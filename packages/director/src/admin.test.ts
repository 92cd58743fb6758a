import { createMemoryNetwork } from "@lvsq/bus";
import { parseConfig } from "@lvsq/config";
import { createMemoryDriver } from "@lvsq/ipvs";
import { type AdminRecord, buckets, kvKeys, subjects } from "@lvsq/protocol";
import { createDirectorMetrics, createLogger, createMetricsRegistry } from "@lvsq/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { DirectorAgent } from "./agent.js";
import { until, voteBatch } from "./test-support.js";

const config = parseConfig(
  `cluster: t
quorum: { startupGrace: 0s }
sites: [a]
probes: [{ id: pa, site: a }]
directors: [{ id: d1 }]
services:
  web:
    vip: 192.0.2.1:80
    realServers: [{ address: 198.51.100.1:80, weight: 2 }, { address: 198.51.100.2:80, weight: 3 }]
`,
  "admin-test.yaml",
  { env: {} },
);
const silent = createLogger({ level: "silent" });
const agents: DirectorAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});

const allUp = () =>
  voteBatch({ cluster: "t", probe: "pa", site: "a", service: "web" }, ["198.51.100.1:80", "198.51.100.2:80"]);

describe("admin overrides and metrics in the director", () => {
  it("applies a drain from the admin bucket over up votes, and keeps it across a director restart", async () => {
    const network = createMemoryNetwork();
    const operator = network.connect("operator");
    const driver = createMemoryDriver();
    const weightOf = async (rs: string) =>
      (await driver.read()).services[0]?.realServers.find((r) => r.address === rs)?.weight;
    const registry = createMetricsRegistry({ defaultMetrics: false });
    const first = await DirectorAgent.start({
      config,
      directorId: "d1",
      bus: network.connect("d1"),
      driver,
      logger: silent,
      metrics: createDirectorMetrics(registry),
    });
    agents.push(first);
    operator.publish(subjects.votes("t", "pa", "web"), allUp());
    await until("both up", async () => (await weightOf("198.51.100.2:80")) === 3);

    const record: AdminRecord = {
      v: 1,
      service: "web",
      rs: "198.51.100.2:80",
      action: "drain",
      author: "alice@host",
      reason: "kernel upgrade",
      at: Date.now(),
    };
    const admin = await operator.kv(buckets.admin("t"));
    await admin.put(kvKeys.admin("web", "198.51.100.2:80"), record);
    await until("drained to weight 0", async () => (await weightOf("198.51.100.2:80")) === 0);
    operator.publish(subjects.votes("t", "pa", "web"), allUp());
    await first.idle();
    expect(await weightOf("198.51.100.2:80")).toBe(0);
    expect(first.explain("web", "198.51.100.2:80")?.realServers[0]).toMatchObject({
      rule: "admin-drain",
      admin: { action: "drain", author: "alice@host" },
    });

    const text = await registry.metrics();
    expect(text).toMatch(/lvsq_director_votes_received_total \d+/);
    expect(text).toMatch(/lvsq_director_applies_total\{result="ok"\} [1-9]/);

    await first.stop();
    agents.length = 0;
    const second = await DirectorAgent.start({
      config,
      directorId: "d1",
      bus: network.connect("d1b"),
      driver,
      logger: silent,
    });
    agents.push(second);
    operator.publish(subjects.votes("t", "pa", "web"), allUp());
    await until(
      "restarted director knows the drain",
      async () => second.explain("web", "198.51.100.2:80")?.realServers[0]?.rule === "admin-drain",
    );
    await second.idle();
    expect(await weightOf("198.51.100.2:80")).toBe(0);

    await admin.put(kvKeys.admin("web", "198.51.100.2:80"), { ...record, action: "enable", at: Date.now() });
    await until("enabled again at weight 3", async () => (await weightOf("198.51.100.2:80")) === 3);
  });
});

describe("drain until the connections are gone", () => {
  it("keeps a drained server at weight 0 while it has connections, then takes it out", async () => {
    const network = createMemoryNetwork();
    const operator = network.connect("operator");
    const memory = createMemoryDriver();
    const open = new Map<string, number>([["198.51.100.2:80", 5]]);
    const driver = {
      read: () => memory.read(),
      apply: (ops: Parameters<typeof memory.apply>[0]) => memory.apply(ops),
      connections: async () => new Map([["tcp 192.0.2.1:80", new Map(open)]]),
    };
    const agent = await DirectorAgent.start({
      config,
      directorId: "d1",
      bus: network.connect("d1"),
      driver,
      logger: silent,
    });
    agents.push(agent);
    const weightOf = async (rs: string) =>
      (await memory.read()).services[0]?.realServers.find((r) => r.address === rs)?.weight;
    operator.publish(subjects.votes("t", "pa", "web"), allUp());
    await until("both up", async () => (await weightOf("198.51.100.2:80")) === 3);
    agent.admin({ service: "web", rs: "198.51.100.2:80", action: "drain", author: "bob", reason: "test" });
    await agent.idle();
    expect(await weightOf("198.51.100.2:80")).toBe(0);
    await agent.checkDrains();
    await agent.idle();
    expect(await weightOf("198.51.100.2:80")).toBe(0);
    open.set("198.51.100.2:80", 0);
    await agent.checkDrains();
    await agent.idle();
    expect(await weightOf("198.51.100.2:80")).toBeUndefined();
    expect(agent.explain("web", "198.51.100.2:80")?.realServers[0]?.rule).toBe("admin-disable");
  });
});
