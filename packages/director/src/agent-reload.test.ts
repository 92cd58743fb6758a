import { createMemoryNetwork } from "@lvsq/bus";
import { type FleetConfig, parseConfig } from "@lvsq/config";
import { createMemoryDriver, type MemoryDriver } from "@lvsq/ipvs";
import { type IpvsTable, subjects, type VoteBatch } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { DirectorAgent } from "./agent.js";
import { createDryRunDriver } from "./dry-run-driver.js";
import { until } from "./test-support.js";

// What a director does with services a reload removes, with kernel services it does not own, what its log
// says in --dry-run, and when it logs isolation.
const fleet = (services: string, directors = "[{ id: d1 }]") =>
  parseConfig(
    `cluster: t
quorum: { startupGrace: 0s }
sites: [a]
probes: [{ id: pa, site: a }]
directors: ${directors}
director: { reconcileInterval: 1m, leaseTtl: 1s }
services:
${services}`,
    "reload-test.yaml",
    { env: {} },
  );
const WEB = "  web: { vip: 192.0.2.1:80, realServers: [{ address: 198.51.100.1:80 }] }\n";
const API = "  api: { vip: 192.0.2.2:80, realServers: [{ address: 198.51.100.2:80 }] }\n";
/** A service somebody else made: no config of this test has it. */
const HANDMADE: IpvsTable = {
  services: [
    {
      key: "tcp 192.0.2.99:80",
      protocol: "tcp",
      address: "192.0.2.99:80",
      family: "inet",
      scheduler: "rr",
      realServers: [{ address: "198.51.100.99:80", forwarding: "nat", weight: 1 }],
    },
  ],
};

const agents: DirectorAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: "debug",
    destination: { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) },
  });
  return { lines, logger, messages: () => lines.map((l) => String(l.msg)) };
}

let seq = 1;
function up(service: string, rs: string): VoteBatch {
  return {
    v: 1,
    cluster: "t",
    probe: "pa",
    site: "a",
    service,
    seq: seq++,
    sentAt: Date.now(),
    intervalMs: 1000,
    votes: [{ rs, state: "up", since: 0, latencyMs: 1, reason: "HTTP 200" }],
  };
}

const keys = async (driver: MemoryDriver) => (await driver.read()).services.map((s) => s.key).sort();

async function start(config: FleetConfig, driver: MemoryDriver, id = "d1", extra = {}) {
  const network =
    (extra as { network?: ReturnType<typeof createMemoryNetwork> }).network ?? createMemoryNetwork();
  const { lines, logger, messages } = capture();
  const agent = await DirectorAgent.start({
    config,
    directorId: id,
    bus: network.connect(id),
    driver,
    logger,
    heartbeatMs: 60_000,
    pairPollMs: 50,
    ...extra,
  });
  agents.push(agent);
  return { agent, network, lines, messages, probes: network.connect(`probes-${id}`) };
}

describe("services a reload removes, and services the config never had", () => {
  it("deletes a removed service from the kernel, never one it does not own, and says which it leaves alone", async () => {
    const driver = createMemoryDriver(HANDMADE);
    const { agent, lines, probes } = await start(fleet(WEB + API), driver);
    probes.publish(subjects.votes("t", "pa", "api"), up("api", "198.51.100.2:80"));
    await until("api in the kernel", async () => (await keys(driver)).includes("tcp 192.0.2.2:80"));
    const warned = lines.find((l) => String(l.msg).startsWith("kernel services not in the config"));
    expect(warned).toMatchObject({ level: "warn", services: ["tcp 192.0.2.99:80"] });

    await agent.reload(fleet(WEB));
    await agent.idle();
    expect(await keys(driver)).toEqual(["tcp 192.0.2.1:80", "tcp 192.0.2.99:80"]);
    expect(lines.find((l) => String(l.msg).startsWith("removed from the config"))).toMatchObject({
      services: ["tcp 192.0.2.2:80"],
    });
    // Gone for good: a reconcile does not bring it back, and a reload that adds it again owns it again.
    await agent.reconcile();
    expect(await keys(driver)).toEqual(["tcp 192.0.2.1:80", "tcp 192.0.2.99:80"]);
    await agent.reload(fleet(WEB + API));
    await agent.idle();
    expect(await keys(driver)).toContain("tcp 192.0.2.2:80");
  });

  it("a follower deletes it too when it reloads (its kernel is its own)", async () => {
    const directors = "[{ id: d1, pair: edge }, { id: d2, pair: edge }]";
    const network = createMemoryNetwork();
    const a = createMemoryDriver();
    const b = createMemoryDriver();
    const d1 = await start(fleet(WEB + API, directors), a, "d1", { network });
    await until("d1 leads", () => d1.agent.role === "leader");
    const d2 = await start(fleet(WEB + API, directors), b, "d2", { network });
    await until("d2 follows", () => d2.agent.role === "follower");
    await until("d2 has api", async () => (await keys(b)).includes("tcp 192.0.2.2:80"));
    await d2.agent.reload(fleet(WEB, directors));
    await d2.agent.idle();
    expect(await keys(b)).toEqual(["tcp 192.0.2.1:80"]);
    expect(await keys(a)).toContain("tcp 192.0.2.2:80");
  });
});

describe("the director's log", () => {
  it("in --dry-run says the kernel table was not changed", async () => {
    const memory = createMemoryDriver();
    const { messages, logger: dryLogger } = capture();
    const driver = createDryRunDriver(memory, dryLogger, "ipvsadm");
    const { lines, agent } = await start(fleet(WEB), driver as MemoryDriver, "d1", { dryRun: true });
    await agent.idle();
    const applied = lines.filter((l) => l.op === "apply");
    expect(applied.length).toBeGreaterThan(0);
    expect(applied.every((l) => l.dryRun === true)).toBe(true);
    expect(applied.map((l) => l.msg)).toContain(
      "dry-run: applied to the in-memory copy of the table; the kernel table was not changed",
    );
    expect(lines.some((l) => l.msg === "applied to the kernel table")).toBe(false);
    expect(messages().some((m) => m.startsWith("dry-run: would run"))).toBe(true);
    expect(await keys(memory)).toEqual([]);
  });

  it("logs isolation the moment NATS is lost, not at the next heartbeat (a minute away here)", async () => {
    const { network, lines } = await start(fleet(WEB), createMemoryDriver());
    expect(lines.find((l) => l.msg === "director role: leader")).toBeDefined();
    network.setPartitioned("d1", true);
    const isolated = lines.find((l) => l.role === "isolated" && l.level === "warn");
    expect(isolated?.msg).toBe("director isolated: cut off from NATS, keeping the kernel table as it is");
    network.setPartitioned("d1", false);
    expect(lines.filter((l) => l.msg === "director role: leader")).toHaveLength(2);
  });

  it("a paired director logs it after one lease round, also long before its next heartbeat", async () => {
    const directors = "[{ id: d1, pair: edge }, { id: d2, pair: edge }]";
    const { network, lines, agent } = await start(fleet(WEB, directors), createMemoryDriver());
    await until("d1 leads", () => agent.role === "leader");
    const cutAt = Date.now();
    network.setPartitioned("d1", true);
    await until("the isolation line", () =>
      lines.find((l) => l.msg === "director isolated: cut off from NATS, keeping the kernel table as it is"),
    );
    // One lease round (50 ms here) plus scheduling; the heartbeat is 60 s away.
    expect(Date.now() - cutAt).toBeLessThan(2000);
  });
});
