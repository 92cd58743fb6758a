import { parseConfig } from "@lvsq/config";
import type { DirectorHeartbeat, EventEnvelope, ProbeHeartbeat, VoteBatch } from "@lvsq/protocol";
import { describe, expect, it } from "vitest";
import { FleetModel } from "./model.js";
import { renderTable } from "./render-table.js";

const config = parseConfig(
  `cluster: edge
nats: { servers: [nats://127.0.0.1:4222] }
quorum: { by: site, down: majority, up: majority, voteTtl: 6s }
sites: [dc1, dc2, dc3]
probes: [{ id: p1, site: dc1 }, { id: p2, site: dc2 }, { id: p3, site: dc3 }]
directors: [{ id: lvs-a, pair: edge }, { id: lvs-b, pair: edge }, { id: lvs-c, pair: edge }]
services:
  web:
    vip: 192.0.2.10:80
    realServers: [{ address: 10.0.0.1:80, weight: 1 }, { address: 10.0.0.2:80, weight: 3 }]
`,
  "fleet.yaml",
);

const T0 = 1_764_000_000_000;
const A = "10.0.0.1:80";
const B = "10.0.0.2:80";

function votes(
  probe: string,
  site: string,
  seq: number,
  states: Record<string, "up" | "down" | "abstain">,
): VoteBatch {
  return {
    v: 1,
    cluster: "edge",
    probe,
    site,
    service: "web",
    seq,
    sentAt: T0,
    intervalMs: 2000,
    votes: Object.entries(states).map(([rs, state]) => ({
      rs,
      state,
      since: T0,
      latencyMs: 1,
      reason: state === "down" ? "HTTP 503" : "HTTP 200",
    })),
  };
}

function probeBeat(probe: string, site: string): ProbeHeartbeat {
  return {
    v: 1,
    type: "probe",
    cluster: "edge",
    probe,
    site,
    version: "0.1.0",
    sentAt: T0,
    uptimeMs: 1000,
    checksPerSecond: 2.5,
    checksTotal: 10,
    errorsTotal: 1,
    connected: true,
  };
}

function directorBeat(
  director: string,
  role: DirectorHeartbeat["role"],
  tableDigest: string,
): DirectorHeartbeat {
  return {
    v: 1,
    type: "director",
    cluster: "edge",
    director,
    pair: "edge",
    role,
    version: "0.1.0",
    sentAt: T0,
    uptimeMs: 5000,
    epoch: 7,
    appliedEpoch: 7,
    tableDigest,
    lastApplyAt: T0 - 500,
    lastApplyMs: 12,
    counts: {
      votesAccepted: 100,
      votesDropped: 0,
      applies: 3,
      applyErrors: 0,
      driftRepairs: 0,
      realServersUp: 2,
      realServersDown: 0,
    },
  };
}

function event(at: number, body: Record<string, unknown> & { type: string }): EventEnvelope {
  return { v: 1, cluster: "edge", director: "lvs-a", service: "web", at, event: { service: "web", ...body } };
}

const rsView = (model: FleetModel, now: number, rs: string) =>
  model.snapshot(now).services[0]!.realServers.find((r) => r.address === rs)!;

describe("FleetModel from recorded messages", () => {
  it("lists configured probes and directors as missing until they report, then fresh, then stale", () => {
    const model = new FleetModel(config);
    let snap = model.snapshot(T0);
    expect(snap.probes.map((p) => [p.id, p.freshness])).toEqual([
      ["p1", "missing"],
      ["p2", "missing"],
      ["p3", "missing"],
    ]);
    expect(snap.directors.every((d) => d.freshness === "missing")).toBe(true);
    model.ingestProbeHeartbeat(probeBeat("p1", "dc1"), T0);
    model.ingestDirectorHeartbeat(directorBeat("lvs-a", "leader", "aaaa"), T0);
    snap = model.snapshot(T0 + 1000);
    expect(snap.probes[0]).toMatchObject({ id: "p1", freshness: "fresh", ageMs: 1000, checksPerSecond: 2.5 });
    expect(snap.directors[0]).toMatchObject({ id: "lvs-a", role: "leader", epoch: 7, tableDigest: "aaaa" });
    expect(snap.summary.probes).toEqual({ total: 3, fresh: 1, stale: 0, missing: 2 });
    snap = model.snapshot(T0 + 6001);
    expect(snap.probes[0]!.freshness).toBe("stale");
    expect(snap.directors[0]!.freshness).toBe("stale");
  });

  it("derives states from the votes' quorum by site while no director has decided", () => {
    const model = new FleetModel(config);
    expect(rsView(model, T0, A)).toMatchObject({ state: "unknown", source: "none" });
    model.ingestVotes(votes("p1", "dc1", 1, { [A]: "up", [B]: "up" }), T0);
    // One site of three: no majority yet.
    expect(rsView(model, T0, A)).toMatchObject({ state: "unknown", quorum: { up: 1, verdict: "none" } });
    model.ingestVotes(votes("p2", "dc2", 1, { [A]: "up", [B]: "up" }), T0);
    model.ingestVotes(votes("p3", "dc3", 1, { [A]: "up", [B]: "up" }), T0);
    expect(rsView(model, T0, B)).toMatchObject({ state: "up", source: "votes", weight: 3 });
    // B fails in two sites: down by quorum, with the votes by site.
    model.ingestVotes(votes("p1", "dc1", 2, { [A]: "up", [B]: "down" }), T0 + 2000);
    model.ingestVotes(votes("p2", "dc2", 2, { [A]: "up", [B]: "down" }), T0 + 2000);
    const b = rsView(model, T0 + 2000, B);
    expect(b).toMatchObject({ state: "down", weight: null, quorum: { down: 2, up: 1, downNeeded: 2 } });
    expect(b.sites.map((s) => [s.site, s.verdict])).toEqual([
      ["dc1", "down"],
      ["dc2", "down"],
      ["dc3", "up"],
    ]);
    expect(b.sites[0]!.votes[0]).toMatchObject({ probe: "p1", state: "down", reason: "HTTP 503" });
    // No director reporting: the status process records the transition itself.
    const history = model.snapshot(T0 + 2000).history;
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ type: "votes-down", rs: B, source: "votes" });
    expect(history[0]!.summary).toContain("2/3 sites down");
  });

  it("counts votes older than voteTtl as expired and keeps the last state (fail-static)", () => {
    const model = new FleetModel(config);
    for (const [p, s] of [
      ["p1", "dc1"],
      ["p2", "dc2"],
    ] as const)
      model.ingestVotes(votes(p, s, 1, { [A]: "down", [B]: "up" }), T0);
    expect(rsView(model, T0, A).state).toBe("down");
    const later = rsView(model, T0 + 10_000, A);
    expect(later.sites[0]!.votes[0]!.state).toBe("expired");
    expect(later.quorum.verdict).toBe("none");
    expect(later.state).toBe("down");
  });

  it("takes the director's events over the votes, with why, and keeps a bounded history", () => {
    const model = new FleetModel(config, { historyLimit: 3 });
    model.ingestDirectorHeartbeat(directorBeat("lvs-a", "leader", "aaaa"), T0);
    const tally = { by: "site", up: 1, down: 2, total: 3, upNeeded: 2, downNeeded: 2 };
    const voteViews = [{ probe: "p1", site: "dc1", state: "down", ageMs: 100, reason: "HTTP 503" }];
    model.ingestEvent(
      event(T0 + 1, { type: "rs-down", rs: B, action: "remove", tally, votes: voteViews }),
      T0,
    );
    let b = rsView(model, T0 + 10, B);
    expect(b).toMatchObject({ state: "down", source: "director", director: { inTable: false, by: "lvs-a" } });
    expect(b.lastTransition?.summary).toContain("2/3 sites down (2 needed)");
    expect(b.lastTransition?.summary).toContain('dc1/p1 down "HTTP 503"');
    model.ingestEvent(event(T0 + 2, { type: "rs-up", rs: B, weight: 3, tally, votes: [] }), T0);
    b = rsView(model, T0 + 10, B);
    expect(b).toMatchObject({ state: "up", weight: 3 });
    // A duplicate (same director, time, type, rs) is ignored; the oldest entries fall off past the limit.
    model.ingestEvent(event(T0 + 2, { type: "rs-up", rs: B, weight: 3, tally, votes: [] }), T0);
    model.ingestEvent(
      event(T0 + 3, { type: "fallback-on", upServers: 0, healthyWeight: 0, servers: ["x"] }),
      T0,
    );
    model.ingestEvent(
      event(T0 + 4, { type: "fallback-off", upServers: 1, healthyWeight: 3, servers: [] }),
      T0,
    );
    const snap = model.snapshot(T0 + 10);
    expect(snap.history.map((t) => t.type)).toEqual(["rs-up", "fallback-on", "fallback-off"]);
    expect(snap.services[0]!.fallbackActive).toBe(false);
    // Votes no longer add transitions of their own while a director reports.
    for (const [p, s] of [
      ["p1", "dc1"],
      ["p2", "dc2"],
    ] as const) {
      model.ingestVotes(votes(p, s, 1, { [A]: "up", [B]: "up" }), T0 + 5);
      model.ingestVotes(votes(p, s, 2, { [A]: "down", [B]: "up" }), T0 + 6);
    }
    expect(model.snapshot(T0 + 10).history.every((t) => t.source === "director")).toBe(true);
  });

  it("orders interleaved events from several directors by time and reads an unknown event type", () => {
    const model = new FleetModel(config);
    model.ingestEvent(event(T0 + 20, { type: "drift-repaired", ops: 2 }), T0);
    model.ingestEvent(
      { ...event(T0 + 10, { type: "leader-changed", from: "lvs-b" }), director: "lvs-b" },
      T0,
    );
    const history = model.snapshot(T0 + 30).history;
    expect(history.map((t) => t.type)).toEqual(["leader-changed", "drift-repaired"]);
    expect(history[1]!.summary).toBe("drift-repaired: ops=2");
  });

  it("flags the director whose table digest differs from its pair's", () => {
    const model = new FleetModel(config);
    model.ingestDirectorHeartbeat(directorBeat("lvs-a", "leader", "aaaa"), T0);
    model.ingestDirectorHeartbeat(directorBeat("lvs-b", "follower", "bbbb"), T0);
    model.ingestDirectorHeartbeat(directorBeat("lvs-c", "follower", "aaaa"), T0);
    let snap = model.snapshot(T0);
    expect(snap.directors.map((d) => [d.id, d.digestMismatch])).toEqual([
      ["lvs-a", false],
      ["lvs-b", true],
      ["lvs-c", false],
    ]);
    expect(snap.summary.directors.digestMismatch).toBe(1);
    // Without a leader the majority digest is the reference.
    model.ingestDirectorHeartbeat(directorBeat("lvs-a", "isolated", "aaaa"), T0);
    snap = model.snapshot(T0);
    expect(snap.directors.filter((d) => d.digestMismatch).map((d) => d.id)).toEqual(["lvs-b"]);
    expect(renderTable(snap)).toMatch(/lvs-b .*TABLE DIFFERS FROM PAIR/);
  });

  it("shows admin overrides and the leader's desired table", () => {
    const model = new FleetModel(config);
    model.ingestDesired(
      {
        v: 1,
        cluster: "edge",
        pair: "edge",
        service: "web",
        epoch: 7,
        leader: "lvs-a",
        at: T0,
        table: {
          key: "tcp 192.0.2.10:80",
          protocol: "tcp",
          address: "192.0.2.10:80",
          family: "inet",
          scheduler: "wrr",
          realServers: [{ address: A, forwarding: "dr", weight: 1 }],
        } as never,
        reasons: [{ rs: B, rule: "quorum-down" }],
      },
      T0,
    );
    expect(rsView(model, T0, A)).toMatchObject({ state: "up", weight: 1, source: "director" });
    expect(rsView(model, T0, B)).toMatchObject({ state: "down", director: { rule: "quorum-down" } });
    const record = { v: 1 as const, service: "web", rs: A, author: "alice@ops", reason: "kernel", at: T0 };
    model.ingestAdmin("web.10_0_0_1_80", { ...record, action: "drain" }, T0);
    expect(rsView(model, T0, A)).toMatchObject({ state: "draining", admin: { author: "alice@ops" } });
    model.ingestAdmin("web.10_0_0_1_80", { ...record, action: "enable" }, T0);
    expect(rsView(model, T0, A)).toMatchObject({ state: "up", admin: null });
    model.ingestAdmin("web.10_0_0_1_80", { ...record, action: "disable" }, T0);
    model.ingestAdmin("web.10_0_0_1_80", undefined, T0);
    expect(rsView(model, T0, A).admin).toBeNull();
  });

  it("ignores other clusters, unassigned probes and unknown real servers; counts changes", () => {
    const model = new FleetModel(config);
    model.ingestVotes({ ...votes("p1", "dc1", 1, { [A]: "up" }), cluster: "other" }, T0);
    model.ingestVotes(votes("intruder", "dc1", 1, { [A]: "down" }), T0);
    model.ingestVotes(votes("p1", "dc1", 2, { "10.9.9.9:80": "down" }), T0);
    const a = rsView(model, T0, A);
    expect(a.sites.flatMap((s) => s.votes)).toEqual([]);
    expect(model.revision).toBe(1);
    expect(model.isComplete()).toBe(false);
  });
});
