import { Writable } from "node:stream";
import { type Bus, connectNatsBus } from "@lvsq/bus";
import {
  buckets,
  type DesiredRecord,
  type DirectorHeartbeat,
  type EventEnvelope,
  kvKeys,
  subjects,
  type VoteBatch,
  VoteBatch as VoteBatchSchema,
} from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import type { FleetSnapshot } from "@lvsq/status";
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

// Until the director lands (issue 6), the test plays the pair `edge` (d1 leader, d2 follower with another
// table digest): it publishes DirectorHeartbeats, an EventEnvelope and the leader's desired record. The
// probes, NATS and `lvsq status` / `lvsq admin` are the real ones.

const quiet = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const CLEAR_SCREEN = "\x1b[H\x1b[2J";

describe("lvsq status and lvsq admin against a real nats-server and real probes", () => {
  let nats: NatsServerHandle;
  let a: Backend;
  let b: Backend;
  let config: string;
  let bus: Bus;
  let probes: LvsqProcess[] = [];
  let beats: NodeJS.Timeout | undefined;
  const batches: VoteBatch[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    [a, b] = await Promise.all([startBackend(), startBackend()]);
    config = tempConfig(`cluster: e2e
nats: { servers: [${nats.url}] }
defaults: { check: { type: http, path: /, interval: 300ms, timeout: 200ms, rise: 2, fall: 2 } }
quorum: { by: site, down: majority, up: majority, voteTtl: 3s }
sites: [s1, s2]
probes: [{ id: p1, site: s1 }, { id: p2, site: s2 }]
directors: [{ id: d1, pair: edge }, { id: d2, pair: edge }]
services:
  web:
    vip: 192.0.2.10:80
    realServers: [{ address: ${a.address}, weight: 1 }, { address: ${b.address}, weight: 3 }]
`);
    bus = await connectNatsBus({ servers: [nats.url], name: "test-director", logger: quiet });
    bus.subscribe(subjects.allVotes("e2e"), VoteBatchSchema, (batch) => void batches.push(batch));
    probes = [
      startLvsq(["probe", "--config", config, "--id", "p1", "--metrics", "127.0.0.1:0"]),
      startLvsq(["probe", "--config", config, "--id", "p2"]),
    ];
    const beat = () => {
      bus.publish(subjects.directorStatus("e2e", "d1"), directorBeat("d1", "leader", "aaaa"));
      bus.publish(subjects.directorStatus("e2e", "d2"), directorBeat("d2", "follower", "bbbb"));
    };
    beat();
    beats = setInterval(beat, 500);
    await waitFor(
      "both probes voted both servers up",
      () => ["p1", "p2"].every((p) => lastVote(p, a.address) === "up" && lastVote(p, b.address) === "up"),
      15_000,
    );
  }, 60_000);

  afterAll(async () => {
    clearInterval(beats);
    await Promise.all(probes.map((p) => p.stop("SIGKILL")));
    await bus?.close();
    await Promise.all([a?.close(), b?.close()]);
    await nats?.dispose();
  });

  const lastVote = (probe: string, rs: string) =>
    batches.findLast((x) => x.probe === probe)?.votes.find((v) => v.rs === rs)?.state;

  it("status --json lists every director, probe and service with correct states after a backend failure", async () => {
    b.setStatus(503);
    await waitFor(
      "both probes voted b down",
      () => lastVote("p1", b.address) === "down" && lastVote("p2", b.address) === "down",
    );
    // The pair's leader decides b is out (what issue 6's director writes to KV).
    const kv = await bus.kv(buckets.desired("e2e"));
    await kv.put(kvKeys.desired("edge", "web"), desired([{ address: a.address, weight: 1 }], b.address));

    const run = startLvsq(["status", "--config", config, "--json", "--wait", "5s"]);
    const exit = await run.exited;
    expect(exit.code, run.lines.join("\n")).toBe(0);
    const snapshot = JSON.parse(run.lines.join("\n")) as FleetSnapshot;
    expect(snapshot).toMatchObject({ v: 1, cluster: "e2e" });
    expect(snapshot.probes.map((p) => [p.id, p.site, p.freshness])).toEqual([
      ["p1", "s1", "fresh"],
      ["p2", "s2", "fresh"],
    ]);
    expect(snapshot.probes.every((p) => (p.checksTotal ?? 0) > 0)).toBe(true);
    // SWITCH TO REAL DIRECTOR: roles and digests below come from the test's fake heartbeats.
    expect(snapshot.directors.map((d) => [d.id, d.pair, d.role, d.freshness, d.digestMismatch])).toEqual([
      ["d1", "edge", "leader", "fresh", false],
      ["d2", "edge", "follower", "fresh", true],
    ]);
    const web = snapshot.services.find((s) => s.id === "web")!;
    const rsA = web.realServers.find((r) => r.address === a.address)!;
    const rsB = web.realServers.find((r) => r.address === b.address)!;
    expect(rsA).toMatchObject({ state: "up", weight: 1, source: "director", quorum: { verdict: "up" } });
    expect(rsB).toMatchObject({ state: "down", weight: null, source: "director" });
    expect(rsB.director).toMatchObject({ inTable: false, by: "d1", rule: "quorum-down" });
    // The votes by site are the real probes' votes.
    expect(rsB.quorum).toMatchObject({ by: "site", down: 2, up: 0, total: 2, verdict: "down" });
    expect(rsB.sites.map((s) => [s.site, s.verdict, s.votes[0]?.probe])).toEqual([
      ["s1", "down", "p1"],
      ["s2", "down", "p2"],
    ]);
    expect(rsB.sites[0]!.votes[0]!.reason).toContain("503");

    const table = startLvsq(["status", "--config", config]);
    expect((await table.exited).code).toBe(0);
    const text = table.lines.join("\n");
    expect(text).toMatch(/d2 .*TABLE DIFFERS FROM PAIR/);
    expect(text).toMatch(new RegExp(`${b.address.replace(/\./g, "\\.")}\\s+down\\s`));
  }, 40_000);

  it("status --watch redraws within 1 s of a director event and of a probe's vote flip", async () => {
    const watch = startLvsq(["status", "--config", config, "--watch"]);
    try {
      const frames = () => watch.lines.join("\n").split(CLEAR_SCREEN).slice(1, -1); // complete frames only
      const rowOf = (frame: string, rs: string) =>
        frame.split("\n").find((line) => line.trimStart().startsWith(`${rs} `));
      await waitFor("a frame showing b down", () =>
        frames().some((f) => /\sdown\s/.test(rowOf(f, b.address) ?? "")),
      );

      // A director transition: b back in (the leader's event, as the director publishes it).
      const seen = frames().length;
      const sentAt = Date.now();
      bus.publish(subjects.events("e2e", "web"), rsUpEvent(b.address, sentAt));
      await waitFor(
        "a frame showing b up",
        () =>
          frames()
            .slice(seen)
            .some((f) => /\sup\s+3\s/.test(rowOf(f, b.address) ?? "")),
        1000,
        10,
      );

      // A real probe flip: a fails; the frame's votes column for a shows ✗ within 1 s of the flipped batch.
      a.setStatus(503);
      const flip = await waitFor(
        "p1's batch with a down",
        () => {
          const batch = batches.findLast(
            (x) => x.probe === "p1" && x.votes.some((v) => v.rs === a.address && v.state === "down"),
          );
          return batch && { at: Date.now(), frames: frames().length };
        },
        5000,
        5,
      );
      await waitFor(
        "a frame with p1's down vote on a",
        () =>
          frames()
            .slice(flip.frames)
            .some((f) => (rowOf(f, a.address) ?? "").includes("s1:✗")),
        1000,
        10,
      );
      a.setStatus(200);
    } finally {
      await watch.stop("SIGTERM");
    }
    expect((await watch.exited).code).toBe(0);
  }, 30_000);

  it("admin drain writes an AdminRecord that status shows; bad arguments exit 2", async () => {
    const run = startLvsq(
      [
        "admin",
        "drain",
        "web",
        a.address,
        "--reason",
        "kernel upgrade",
        "--deadline",
        "30m",
        "--config",
        config,
      ],
      { SUDO_USER: "alice" },
    );
    expect((await run.exited).code, run.lines.join("\n")).toBe(0);
    expect(run.lines.join("\n")).toContain(
      `written to KV lvsq_e2e_admin key ${kvKeys.admin("web", a.address)}`,
    );
    const kv = await bus.kv(buckets.admin("e2e"));
    const entry = await kv.get(kvKeys.admin("web", a.address));
    expect(entry?.value).toMatchObject({
      v: 1,
      service: "web",
      rs: a.address,
      action: "drain",
      reason: "kernel upgrade",
    });
    const record = entry!.value as { author: string; at: number; deadline: number };
    expect(record.author).toMatch(/^alice@/);
    expect(record.deadline - record.at).toBe(30 * 60_000);

    const status = startLvsq(["status", "--config", config, "--json"]);
    expect((await status.exited).code).toBe(0);
    const rsA = (JSON.parse(status.lines.join("\n")) as FleetSnapshot).services[0]!.realServers.find(
      (r) => r.address === a.address,
    )!;
    // SWITCH TO REAL DIRECTOR: also assert the director applied it (weight 0) and that it survives a restart.
    expect(rsA).toMatchObject({ state: "draining", admin: { action: "drain", reason: "kernel upgrade" } });

    const enable = startLvsq(["admin", "enable", "web", a.address, "--config", config]);
    expect((await enable.exited).code).toBe(0);
    expect(enable.lines.join("\n")).toContain("previous: drain by alice@");
    const unknown = startLvsq(["admin", "disable", "web", "10.9.9.9:80", "--config", config]);
    expect((await unknown.exited).code).toBe(2);
    expect(unknown.lines.join("\n")).toContain("is not in service web");
    const badDeadline = startLvsq([
      "admin",
      "disable",
      "web",
      a.address,
      "--deadline",
      "5m",
      "--config",
      config,
    ]);
    expect((await badDeadline.exited).code).toBe(2);
  }, 30_000);

  it("the probe's --metrics endpoint serves checks by result and the latency histogram", async () => {
    const url = await waitFor(
      "p1 logged its metrics url",
      () =>
        probes[0]!.logs().find((l) => l.msg === "metrics: serving Prometheus text")?.url as
          | string
          | undefined,
    );
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    const samples = parsePrometheus(await res.text());
    const value = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        ?.value;
    expect(value("lvsq_probe_checks_total", { service: "web", result: "up" })).toBeGreaterThan(0);
    expect(value("lvsq_probe_checks_total", { service: "web", result: "down" })).toBeGreaterThan(0);
    const count = value("lvsq_probe_check_duration_seconds_count", { service: "web" })!;
    const inf = value("lvsq_probe_check_duration_seconds_bucket", { service: "web", le: "+Inf" });
    expect(count).toBeGreaterThan(0);
    expect(inf).toBe(count);
    expect(value("lvsq_probe_vote_flips_total", { service: "web" })).toBeGreaterThanOrEqual(2);
  });
});

type Sample = { name: string; labels: Record<string, string>; value: number };

/** Prometheus text format 0.0.4: `name{a="x",b="y"} value` lines; comments skipped. */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

function directorBeat(
  director: string,
  role: DirectorHeartbeat["role"],
  tableDigest: string,
): DirectorHeartbeat {
  const now = Date.now();
  return {
    v: 1,
    type: "director",
    cluster: "e2e",
    director,
    pair: "edge",
    role,
    version: "0.1.0",
    sentAt: now,
    uptimeMs: 1000,
    epoch: 3,
    appliedEpoch: 3,
    tableDigest,
    lastApplyAt: now - 1000,
    lastApplyMs: 9,
    counts: {
      votesAccepted: 1,
      votesDropped: 0,
      applies: 1,
      applyErrors: 0,
      driftRepairs: 0,
      realServersUp: 1,
      realServersDown: 1,
    },
  };
}

function desired(realServers: { address: string; weight: number }[], downRs: string): DesiredRecord {
  return {
    v: 1,
    cluster: "e2e",
    pair: "edge",
    service: "web",
    epoch: 3,
    leader: "d1",
    at: Date.now(),
    table: {
      key: "tcp 192.0.2.10:80",
      protocol: "tcp",
      address: "192.0.2.10:80",
      family: "inet",
      scheduler: "wlc",
      realServers: realServers.map((r) => ({ ...r, forwarding: "dr" })),
    } as DesiredRecord["table"],
    reasons: [{ rs: downRs, rule: "quorum-down", sitesDown: 2, sitesUp: 0 }],
  };
}

function rsUpEvent(rs: string, at: number): EventEnvelope {
  const tally = { by: "site", up: 2, down: 0, total: 2, upNeeded: 2, downNeeded: 2 };
  return {
    v: 1,
    cluster: "e2e",
    director: "d1",
    service: "web",
    at,
    event: { type: "rs-up", service: "web", rs, weight: 3, tally, votes: [] },
  };
}
