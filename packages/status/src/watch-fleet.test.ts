import { createMemoryNetwork } from "@lvsq/bus";
import { parseConfig } from "@lvsq/config";
import { buckets, kvKeys, subjects } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { describe, expect, it } from "vitest";
import { FleetModel } from "./model.js";
import { watchFleet } from "./watch-fleet.js";

const quiet = createLogger({ level: "silent" });
const config = parseConfig(
  `cluster: c1
nats: { servers: [nats://127.0.0.1:4222] }
sites: [s1]
probes: [{ id: p1, site: s1 }]
directors: [{ id: d1 }]
services: { web: { vip: 192.0.2.1:80, realServers: [{ address: 10.0.0.1:80 }] } }
`,
  "fleet.yaml",
);

describe("watchFleet over the in-process bus", () => {
  it("feeds heartbeats, votes, events and admin records into the model and drops invalid messages", async () => {
    const network = createMemoryNetwork();
    const statusBus = network.connect("status");
    const agent = network.connect("agent");
    const model = new FleetModel(config);
    const watch = watchFleet(statusBus, model, quiet, { cluster: "c1", now: () => 1000 });
    await watch.ready;
    agent.publish(subjects.probeStatus("c1", "p1"), {
      v: 1,
      type: "probe",
      cluster: "c1",
      probe: "p1",
      site: "s1",
      version: "0.1.0",
      sentAt: 1,
      uptimeMs: 1,
      checksPerSecond: 1,
      checksTotal: 1,
      errorsTotal: 0,
      connected: true,
    });
    agent.publish(subjects.votes("c1", "p1", "web"), {
      v: 1,
      cluster: "c1",
      probe: "p1",
      site: "s1",
      service: "web",
      seq: 1,
      sentAt: 1,
      intervalMs: 1000,
      votes: [{ rs: "10.0.0.1:80", state: "down", since: 1, latencyMs: 1, reason: "HTTP 500" }],
    });
    agent.publish(subjects.events("c1", "web"), {
      v: 1,
      cluster: "c1",
      director: "d1",
      service: "web",
      at: 5,
      event: { type: "rs-down", service: "web", rs: "10.0.0.1:80", action: "remove" },
    });
    agent.publish(subjects.directorStatus("c1", "d1"), { v: 1, type: "director", nonsense: true });
    const kv = await agent.kv(buckets.admin("c1"));
    await kv.put(kvKeys.admin("web", "10.0.0.1:80"), {
      v: 1,
      service: "web",
      rs: "10.0.0.1:80",
      action: "disable",
      author: "bob@h",
      reason: "rma",
      at: 9,
    });
    const deadline = Date.now() + 2000;
    while (model.snapshot(1000).services[0]!.realServers[0]!.admin === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const snap = model.snapshot(1000);
    expect(snap.probes[0]!.freshness).toBe("fresh");
    expect(snap.directors[0]!.freshness).toBe("missing");
    const rs = snap.services[0]!.realServers[0]!;
    expect(rs).toMatchObject({ state: "disabled", source: "director", quorum: { verdict: "down" } });
    expect(rs.admin).toMatchObject({ author: "bob@h", reason: "rma" });
    expect(snap.history.map((t) => t.type)).toEqual(["rs-down"]);
    expect(statusBus.stats().dropped.schema).toBe(1);
    watch.stop();
    await Promise.all([statusBus.close(), agent.close()]);
  });
});
