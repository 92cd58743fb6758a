import { createMemoryNetwork } from "@lvsq/bus";
import { parseConfig } from "@lvsq/config";
import { createMemoryDriver } from "@lvsq/ipvs";
import { DirectorHeartbeat, EventEnvelope, type IpvsTable, subjects, type VoteBatch } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { DirectorAgent } from "./agent.js";
import { until } from "./test-support.js";

const config = parseConfig(
  `cluster: t
quorum: { startupGrace: 0s, voteTtl: 5s }
sites: [a, b, c]
probes: [{ id: pa, site: a }, { id: pb, site: b }, { id: pc, site: c }]
directors: [{ id: d1 }]
director: { reconcileInterval: 1m }
services:
  web:
    vip: 192.0.2.1:80
    scheduler: wrr
    fallback: [{ address: 198.51.100.9:80 }]
    realServers: [{ address: 198.51.100.1:80, weight: 1 }, { address: 198.51.100.2:80, weight: 3 }]
`,
  "director-test.yaml",
  { env: {} },
);

const silent = createLogger({ level: "silent" });
const agents: DirectorAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});

let seq = 1;
function batch(probe: string, states: Record<string, "up" | "down">): VoteBatch {
  return {
    v: 1,
    cluster: "t",
    probe,
    site: { pa: "a", pb: "b", pc: "c" }[probe]!,
    service: "web",
    seq: seq++,
    sentAt: Date.now(),
    intervalMs: 1000,
    votes: Object.entries(states).map(([rs, state]) => ({
      rs,
      state,
      since: 0,
      latencyMs: 1,
      reason: state === "up" ? "HTTP 200" : "HTTP 503",
    })),
  };
}

function weights(table: IpvsTable): Record<string, number> {
  return Object.fromEntries(
    table.services.flatMap((s) => s.realServers.map((rs) => [rs.address, rs.weight])),
  );
}

async function start(driver = createMemoryDriver()) {
  const network = createMemoryNetwork();
  const bus = network.connect("director");
  const probes = network.connect("probes");
  const agent = await DirectorAgent.start({
    config,
    directorId: "d1",
    bus,
    driver,
    logger: silent,
    heartbeatMs: 100,
  });
  agents.push(agent);
  const up = { "198.51.100.1:80": "up", "198.51.100.2:80": "up" } as const;
  return { agent, driver, bus, probes, network, up };
}

describe("DirectorAgent (memory bus, memory kernel)", () => {
  it("creates its service, applies quorum decisions, and installs the fallback only when all are down", async () => {
    const { driver, probes, up } = await start();
    for (const p of ["pa", "pb", "pc"]) probes.publish(subjects.votes("t", p, "web"), batch(p, up));
    await until(
      "both in",
      async () =>
        JSON.stringify(weights(await driver.read())) ===
        JSON.stringify({ "198.51.100.1:80": 1, "198.51.100.2:80": 3 }),
    );
    const down2 = { ...up, "198.51.100.2:80": "down" } as const;
    probes.publish(subjects.votes("t", "pa", "web"), batch("pa", down2));
    // one site of three says down: nothing changes (quorum)
    await new Promise((r) => setTimeout(r, 50));
    expect(weights(await driver.read())).toEqual({ "198.51.100.1:80": 1, "198.51.100.2:80": 3 });
    probes.publish(subjects.votes("t", "pb", "web"), batch("pb", down2));
    await until("rs 2 out", async () => !("198.51.100.2:80" in weights(await driver.read())));
    const allDown = { "198.51.100.1:80": "down", "198.51.100.2:80": "down" } as const;
    for (const p of ["pa", "pb"]) probes.publish(subjects.votes("t", p, "web"), batch(p, allDown));
    await until(
      "fallback in",
      async () => JSON.stringify(weights(await driver.read())) === JSON.stringify({ "198.51.100.9:80": 1 }),
    );
  });

  it("ages votes on the monotonic clock: a wall clock stepped back does not keep a silent probe's votes", async () => {
    let wall = Date.now();
    let mono = 1_000;
    const network = createMemoryNetwork();
    const driver = createMemoryDriver();
    const probes = network.connect("probes");
    const agent = await DirectorAgent.start({
      config,
      directorId: "d1",
      bus: network.connect("director"),
      driver,
      logger: silent,
      now: () => wall,
      clock: () => mono,
      tickMs: 3_600_000,
      heartbeatMs: 3_600_000,
    });
    agents.push(agent);
    const up = { "198.51.100.1:80": "up", "198.51.100.2:80": "up" } as const;
    for (const p of ["pa", "pb", "pc"]) probes.publish(subjects.votes("t", p, "web"), batch(p, up));
    await until("both in", async () => Object.keys(weights(await driver.read())).length === 2);
    const verdict = () => agent.explain("web", "198.51.100.1:80")?.realServers[0]?.verdict;
    expect(verdict()).toBe("up");
    // NTP steps the wall clock back an hour; then the probes fall silent for longer than voteTtl (5 s).
    wall -= 3_600_000;
    mono += 5_001;
    agent.tick();
    expect(verdict()).toBe("fail-static"); // every vote expired: the table is kept, not emptied
  });

  it("drops forged and replayed batches, counts them, and keeps the table", async () => {
    const { agent, driver, probes, up } = await start();
    for (const p of ["pa", "pb", "pc"]) probes.publish(subjects.votes("t", p, "web"), batch(p, up));
    await until("both in", async () => Object.keys(weights(await driver.read())).length === 2);
    const down = { "198.51.100.1:80": "down", "198.51.100.2:80": "down" } as const;
    // pa pretends to be pb and pc: the subject names pa, the payload another probe
    probes.publish(subjects.votes("t", "pa", "web"), batch("pb", down));
    probes.publish(subjects.votes("t", "pa", "web"), batch("pc", down));
    // replay: an old seq from pb
    probes.publish(subjects.votes("t", "pb", "web"), { ...batch("pb", down), seq: 1 });
    probes.publish(subjects.votes("t", "pa", "web"), { nonsense: true });
    probes.publish(subjects.votes("t", "pa", "web"), batch("pa", down));
    await until("drops counted", () => agent.stats().votesDropped >= 6);
    expect(Object.keys(weights(await driver.read()))).toHaveLength(2);
  });

  it("repairs drift on reconcile, with an event", async () => {
    const { agent, driver, probes, up, bus } = await start();
    const events: string[] = [];
    probes.subscribe(subjects.allEvents("t"), EventEnvelope, (e) => void events.push(e.event.type));
    for (const p of ["pa", "pb", "pc"]) probes.publish(subjects.votes("t", p, "web"), batch(p, up));
    await until("both in", async () => Object.keys(weights(await driver.read())).length === 2);
    const table = await driver.read();
    const service = table.services[0]!;
    await driver.apply([{ type: "delete-server", service, address: "198.51.100.2:80" }]);
    await agent.reconcile();
    expect(weights(await driver.read())).toEqual({ "198.51.100.1:80": 1, "198.51.100.2:80": 3 });
    await until("drift event", () => events.includes("drift-repaired"));
    expect(bus.isConnected()).toBe(true);
  });

  it("answers explain over the bus and reports isolated when cut off", async () => {
    const { agent, probes, up, network } = await start();
    for (const p of ["pa", "pb", "pc"]) probes.publish(subjects.votes("t", p, "web"), batch(p, up));
    const answer = (await until("explain answer", () =>
      probes
        .request(subjects.explain("t", "d1"), { service: "web", rs: "198.51.100.2:80" }, 1000)
        .catch(() => undefined),
    )) as { director: string; explanation: { realServers: { rs: string; sites: unknown[] }[] } };
    expect(answer.director).toBe("d1");
    expect(answer.explanation.realServers[0]).toMatchObject({ rs: "198.51.100.2:80" });
    expect(answer.explanation.realServers[0]!.sites).toHaveLength(3);
    const heartbeats: string[] = [];
    probes.subscribe(
      subjects.directorStatus("t", "d1"),
      DirectorHeartbeat,
      (h) => void heartbeats.push(h.role),
    );
    await until("leader heartbeat", () => heartbeats.includes("leader"));
    network.setPartitioned("director", true);
    await until("isolated role", () => agent.role === "isolated");
  });

  it("coalesces a burst of decisions into few kernel batches", async () => {
    const driver = createMemoryDriver();
    const { probes } = await start(driver);
    for (let i = 0; i < 200; i++) {
      const state = i % 2 === 0 ? "up" : "down";
      for (const p of ["pa", "pb", "pc"])
        probes.publish(
          subjects.votes("t", p, "web"),
          batch(p, { "198.51.100.1:80": "up", "198.51.100.2:80": state }),
        );
    }
    await until("settled", async () => Object.keys(weights(await driver.read())).length === 1);
    expect(driver.batches.length).toBeLessThan(200);
  });

  it("leaves the kernel table as it is when stopped", async () => {
    const { agent, driver, probes, up } = await start();
    for (const p of ["pa", "pb", "pc"]) probes.publish(subjects.votes("t", p, "web"), batch(p, up));
    await until("both in", async () => Object.keys(weights(await driver.read())).length === 2);
    await agent.stop();
    expect(weights(await driver.read())).toEqual({ "198.51.100.1:80": 1, "198.51.100.2:80": 3 });
  });
});

describe("DirectorAgent start while the kernel table cannot be read", () => {
  it("retries the first read (logging each failure) instead of giving up, and writes nothing before it", async () => {
    const memory = createMemoryDriver();
    let failures = 2;
    let writes = 0;
    const writesAtFailedRead: number[] = [];
    const driver = {
      ...memory,
      read: async () => {
        writesAtFailedRead.push(writes);
        if (failures-- > 0) throw new Error("chaos: injected ipvsadm failure");
        return memory.read();
      },
      apply: async (ops: Parameters<typeof memory.apply>[0]) => {
        writes++;
        return memory.apply(ops);
      },
    };
    const lines: { msg: string; attempt?: number; retryInMs?: number }[] = [];
    const logger = createLogger({
      level: "error",
      destination: { write: (l: string) => lines.push(JSON.parse(l)) },
    });
    const network = createMemoryNetwork();
    const started = Date.now();
    const agent = await DirectorAgent.start({
      config,
      directorId: "d1",
      bus: network.connect("director"),
      driver,
      logger,
      startReadRetryMs: 20,
    });
    agents.push(agent);
    const retries = lines.filter((l) => l.msg.startsWith("cannot read the kernel table at start"));
    expect(retries.map((l) => [l.attempt, l.retryInMs])).toEqual([
      [1, 20],
      [2, 40],
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect(failures).toBe(-1);
    expect(writesAtFailedRead.slice(0, 2)).toEqual([0, 0]);
    // Started: it now creates its service like any director.
    await until("service created", async () => (await memory.read()).services.length === 1);
    expect(writes).toBeGreaterThan(0);
  });
});
