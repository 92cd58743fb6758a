import { type Bus, connectNatsBus } from "@lvsq/bus";
import { subjects, type VoteBatch } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Backend,
  type LvsqProcess,
  startBackend,
  startLvsq,
  tempConfig,
  waitFor,
} from "../harness/agents.js";
import { type NatsServerHandle, startNatsServer } from "../harness/nats.js";
import { explainRs, leaderSeenBy, rsArg, scrape, startDirector, waitForCommand } from "./status-fleet.js";

// The agents' `--metrics` endpoints, scraped and parsed: a real pair of directors (d1 leads, d2 follows;
// `--dry-run`, no IPVS on this host) fed by a real probe over a real nats-server. NATS is then stopped and
// restarted to see the isolated flag go up and down.

const quiet = createLogger({ level: "silent" });
const VIP = "192.0.2.30:80";

describe("lvsq director --metrics and lvsq probe --metrics", () => {
  let nats: NatsServerHandle;
  let a: Backend;
  let b: Backend;
  let config: string;
  let probe: LvsqProcess | undefined;
  const directors: LvsqProcess[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    [a, b] = await Promise.all([startBackend(), startBackend()]);
    config = tempConfig(`cluster: m
nats: { servers: [${nats.url}] }
defaults: { check: { type: http, path: /, interval: 300ms, timeout: 200ms, rise: 2, fall: 2 } }
quorum: { startupGrace: 1s }
sites: [s1]
probes: [{ id: p1, site: s1 }]
directors: [{ id: d1, pair: edge }, { id: d2, pair: edge }]
services:
  web:
    vip: ${VIP}
    # loopback backends share one address: NAT keeps their ports apart (dr would make them one)
    forwarding: nat
    realServers: [{ address: ${a.address} }, { address: ${b.address}, weight: 2 }]
`);
    probe = startLvsq(["probe", "--config", config, "--id", "p1", "--metrics", "127.0.0.1:0"]);
    directors.push(await startDirector(config, "d1", ["--metrics", "127.0.0.1:0"]));
    await waitFor("d1 leads", () => leaderSeenBy(directors[0]!) === "d1");
    directors.push(await startDirector(config, "d2", ["--metrics", "127.0.0.1:0"]));
    await waitFor("d2 follows d1", () => leaderSeenBy(directors[1]!) === "d1");
  }, 30_000);

  afterAll(async () => {
    await Promise.all([probe?.stop("SIGKILL"), ...directors.map((d) => d.stop("SIGKILL"))]);
    await Promise.all([a?.close(), b?.close()]);
    await nats?.dispose();
  });

  it("serves votes received/dropped, real servers per service, applies, leader epoch, role and isolated", async () => {
    const [d1, d2] = directors as [LvsqProcess, LvsqProcess];
    // "d2 follows d1" comes a few hundred ms after the probe starts, before it has seen `rise` checks of b
    // pass: failing b then leaves it never voted up, so never added and never removed. Fail it only once
    // both directors have put both servers in their tables.
    for (const d of directors)
      for (const rs of [a, b])
        await waitForCommand(d, new RegExp(`^ipvsadm -a -t ${VIP} ${rsArg(rs.address)} `));
    b.setStatus(503);
    for (const d of directors)
      await waitForCommand(d, new RegExp(`^ipvsadm -d -t ${VIP} ${rsArg(b.address)}$`));

    // Votes from a probe the config does not know: both directors drop them, by reason.
    const bus: Bus = await connectNatsBus({ servers: [nats.url], name: "test-intruder", logger: quiet });
    const now = Date.now();
    const intruder: VoteBatch = {
      v: 1,
      cluster: "m",
      probe: "intruder",
      site: "s1",
      service: "web",
      seq: 1,
      sentAt: now,
      intervalMs: 300,
      votes: [a, b].map((x) => ({
        rs: x.address,
        state: "down",
        since: now,
        latencyMs: 1,
        reason: "forged",
      })),
    };
    bus.publish(subjects.votes("m", "intruder", "web"), intruder);
    await bus.close();

    // The epoch the pair acts on, as `lvsq explain` reports it (the lease revision d1 took).
    const decidedBy = (await explainRs(config, "d1", "web", a.address)).decidedBy;
    expect(decidedBy).toMatchObject({ director: "d1", leader: true });
    const leaderEpoch = decidedBy.epoch;
    expect(leaderEpoch).toBeGreaterThan(0);
    for (const [d, role] of [
      [d1, "leader"],
      [d2, "follower"],
    ] as const) {
      // Gauges are refreshed with each heartbeat: poll until they show b out and the dropped votes.
      const value = await waitFor(`${role}'s metrics after b's failure`, async () => {
        const v = await scrape(d);
        return v("lvsq_director_real_servers", { service: "web", state: "down" }) === 1 &&
          v("lvsq_director_votes_dropped_total", { reason: "unknown-probe" }) === 2
          ? v
          : undefined;
      });
      expect(value("lvsq_director_real_servers", { service: "web", state: "up" })).toBe(1);
      expect(value("lvsq_director_votes_received_total")).toBeGreaterThan(0);
      const applies = value("lvsq_director_applies_total", { result: "ok" })!;
      expect(applies).toBeGreaterThanOrEqual(2); // the service and its servers, then b out
      expect(value("lvsq_director_applies_total", { result: "error" }) ?? 0).toBe(0);
      expect(value("lvsq_director_apply_duration_seconds_count")).toBe(applies);
      expect(value("lvsq_director_apply_duration_seconds_bucket", { le: "+Inf" })).toBe(applies);
      expect(value("lvsq_director_drift_repairs_total")).toBe(0);
      expect(value("lvsq_director_leader_epoch")).toBe(leaderEpoch);
      expect(value("lvsq_director_isolated")).toBe(0);
      expect(value("lvsq_director_role", { role })).toBe(1);
      expect(value("lvsq_director_role", { role: "isolated" })).toBe(0);
      expect(value("lvsq_process_resident_memory_bytes")).toBeGreaterThan(0);
    }

    // NATS goes away: both directors are isolated (table kept); it comes back: one leads at a newer epoch.
    await nats.stop();
    for (const d of directors) {
      await waitFor(
        "isolated = 1",
        async () => {
          const v = await scrape(d);
          return v("lvsq_director_isolated") === 1 && v("lvsq_director_role", { role: "isolated" }) === 1;
        },
        15_000,
        100,
      );
    }
    await nats.restart();
    const after = await waitFor(
      "both connected again, one leader, one newer epoch",
      async () => {
        const [v1, v2] = [await scrape(d1), await scrape(d2)];
        const leaders = [v1, v2].filter((v) => v("lvsq_director_role", { role: "leader" }) === 1).length;
        const epochs = [v1, v2].map((v) => v("lvsq_director_leader_epoch"));
        const isolated = [v1, v2].map((v) => v("lvsq_director_isolated"));
        return leaders === 1 && isolated.every((x) => x === 0) && epochs[0] === epochs[1] && epochs[0];
      },
      20_000,
      100,
    );
    expect(after).toBeGreaterThan(leaderEpoch);
  }, 60_000);

  it("the probe's endpoint serves checks by result and the latency histogram", async () => {
    const value = await scrape(probe!);
    expect(value("lvsq_probe_checks_total", { service: "web", result: "up" })).toBeGreaterThan(0);
    expect(value("lvsq_probe_checks_total", { service: "web", result: "down" })).toBeGreaterThan(0);
    const count = value("lvsq_probe_check_duration_seconds_count", { service: "web" })!;
    expect(count).toBeGreaterThan(0);
    expect(value("lvsq_probe_check_duration_seconds_bucket", { service: "web", le: "+Inf" })).toBe(count);
    expect(value("lvsq_probe_vote_flips_total", { service: "web" })).toBeGreaterThanOrEqual(1);
  });
});
