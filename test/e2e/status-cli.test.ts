import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type Bus, connectNatsBus } from "@lvsq/bus";
import { buckets, kvKeys, subjects, type VoteBatch, VoteBatch as VoteBatchSchema } from "@lvsq/protocol";
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
import {
  dryRunCommands,
  explainRs,
  leaderSeenBy,
  rsArg,
  startDirector,
  waitForCommand,
} from "./status-fleet.js";

// Everything is real: nats-server, two `lvsq probe` (sites s1, s2), the director pair `edge` (d1 leads, d2
// follows; `--dry-run` because this host has no IPVS), `lvsq status`, `lvsq admin` and `lvsq explain`. The
// test only switches the loopback backends' health and listens to the vote batches to time the probes' flips.

const quiet = createLogger({ level: "silent" });
const CLEAR_SCREEN = "\x1b[H\x1b[2J";
const VIP = "192.0.2.10:80";
const FLEET = (natsUrl: string, a: Backend, b: Backend, extra = "") => `cluster: e2e
nats: { servers: [${natsUrl}] }
defaults: { check: { type: http, path: /, interval: 300ms, timeout: 200ms, rise: 2, fall: 2 } }
quorum: { by: site, down: majority, up: majority, voteTtl: 3s, startupGrace: 1s }
sites: [s1, s2]
probes: [{ id: p1, site: s1 }, { id: p2, site: s2 }]
directors: [{ id: d1, pair: edge }, { id: d2, pair: edge }${extra ? ", { id: d3, pair: edge }" : ""}]
services:
  web:
    vip: ${VIP}
    realServers: [{ address: ${a.address}, weight: 1 }, { address: ${b.address}, weight: 3 }]
${extra}`;

describe("lvsq status, admin and explain against real probes and a real director pair", () => {
  let nats: NatsServerHandle;
  let a: Backend;
  let b: Backend;
  let config: string;
  let bus: Bus;
  let probes: LvsqProcess[] = [];
  const directors = new Map<string, LvsqProcess>();
  const batches: VoteBatch[] = [];
  const d = (id: string) => directors.get(id)!;

  beforeAll(async () => {
    nats = await startNatsServer();
    [a, b] = await Promise.all([startBackend(), startBackend()]);
    config = tempConfig(FLEET(nats.url, a, b));
    bus = await connectNatsBus({ servers: [nats.url], name: "test-listener", logger: quiet });
    bus.subscribe(subjects.allVotes("e2e"), VoteBatchSchema, (batch) => void batches.push(batch));
    probes = [
      startLvsq(["probe", "--config", config, "--id", "p1"]),
      startLvsq(["probe", "--config", config, "--id", "p2"]),
    ];
    // d1 first, so it takes the lease; d2 then finds it held and follows.
    directors.set("d1", await startDirector(config, "d1"));
    await waitFor("d1 leads", () => leaderSeenBy(d("d1")) === "d1");
    directors.set("d2", await startDirector(config, "d2"));
    await waitFor("d2 follows d1", () => leaderSeenBy(d("d2")) === "d1");
    for (const id of ["d1", "d2"])
      for (const rs of [a, b]) await waitForCommand(d(id), new RegExp(`^ipvsadm -a .*${rsArg(rs.address)} `));
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...probes, ...directors.values()].map((p) => p.stop("SIGKILL")));
    await bus?.close();
    await Promise.all([a?.close(), b?.close()]);
    await nats?.dispose();
  });

  const statusJson = async () => {
    const run = startLvsq(["status", "--config", config, "--json", "--wait", "5s"]);
    const exit = await run.exited;
    expect(exit.code, run.lines.join("\n")).toBe(0);
    return JSON.parse(run.lines.join("\n")) as FleetSnapshot;
  };
  const realServer = (snapshot: FleetSnapshot, rs: string) =>
    snapshot.services.find((s) => s.id === "web")!.realServers.find((r) => r.address === rs)!;

  it("status --json lists every director, probe and service with correct states after a backend failure", async () => {
    b.setStatus(503);
    // Both directors of the pair take b out of their (dry-run) tables: the leader decides, the follower
    // applies the leader's record.
    for (const id of ["d1", "d2"])
      await waitForCommand(d(id), new RegExp(`^ipvsadm -d -t ${VIP} ${rsArg(b.address)}$`));

    const snapshot = await statusJson();
    expect(snapshot).toMatchObject({ v: 1, cluster: "e2e" });
    expect(snapshot.probes.map((p) => [p.id, p.site, p.freshness])).toEqual([
      ["p1", "s1", "fresh"],
      ["p2", "s2", "fresh"],
    ]);
    expect(snapshot.probes.every((p) => (p.checksTotal ?? 0) > 0)).toBe(true);
    // A healthy pair: same epoch, both applied it, identical tables (no mismatch flagged).
    expect(snapshot.directors.map((x) => [x.id, x.pair, x.role, x.freshness, x.digestMismatch])).toEqual([
      ["d1", "edge", "leader", "fresh", false],
      ["d2", "edge", "follower", "fresh", false],
    ]);
    const [d1, d2] = snapshot.directors;
    expect(d1!.epoch).toBeGreaterThan(0);
    expect([d2!.epoch, d1!.appliedEpoch, d2!.appliedEpoch]).toEqual([d1!.epoch, d1!.epoch, d1!.epoch]);
    expect(d2!.tableDigest).toBe(d1!.tableDigest);
    expect(d1!.counts).toMatchObject({ realServersUp: 1, realServersDown: 1, applyErrors: 0 });
    expect(d1!.counts!.votesAccepted).toBeGreaterThan(0);
    expect(snapshot.summary.directors).toMatchObject({ total: 2, fresh: 2, digestMismatch: 0 });

    const rsA = realServer(snapshot, a.address);
    const rsB = realServer(snapshot, b.address);
    expect(rsA).toMatchObject({ state: "up", weight: 1, source: "director", quorum: { verdict: "up" } });
    expect(rsB).toMatchObject({ state: "down", weight: null, source: "director" });
    expect(rsB.director).toMatchObject({ inTable: false, by: "d1", rule: "quorum-down" });
    expect(rsB.quorum).toMatchObject({ by: "site", down: 2, up: 0, total: 2, verdict: "down" });
    expect(rsB.sites.map((s) => [s.site, s.verdict, s.votes[0]?.probe])).toEqual([
      ["s1", "down", "p1"],
      ["s2", "down", "p2"],
    ]);
    expect(rsB.sites[0]!.votes[0]!.reason).toContain("503");

    const table = startLvsq(["status", "--config", config]);
    expect((await table.exited).code).toBe(0);
    const text = table.lines.join("\n");
    expect(text).toContain("directors 2/2 fresh · probes 2/2 fresh");
    expect(text).not.toContain("TABLE DIFFERS FROM PAIR");
    expect(text).toMatch(/\n\s+d1\s+edge\s+leader\s/);
    expect(text).toMatch(new RegExp(`${b.address.replace(/\./g, "\\.")}\\s+down\\s`));
  }, 40_000);

  it("status --watch redraws within 1 s of the director's transition and of a probe's vote flip", async () => {
    const watch = startLvsq(["status", "--config", config, "--watch"]);
    try {
      // A frame is complete once its legend (the last line) has arrived.
      const frames = () =>
        watch.lines
          .join("\n")
          .split(CLEAR_SCREEN)
          .slice(1)
          .filter((f) => f.includes("state* = "));
      const rowOf = (frame: string, rs: string) =>
        frame.split("\n").find((line) => line.trimStart().startsWith(`${rs} `));
      await waitFor("a frame showing b down", () =>
        frames().some((f) => /\sdown\s/.test(rowOf(f, b.address) ?? "")),
      );

      // The director's transition: b recovers, the probes vote it up, d1 logs rs-up and publishes it.
      const seen = frames().length;
      const logMark = d("d1").logs().length;
      b.setStatus(200);
      const rsUp = await waitFor(
        "d1's rs-up for b",
        () =>
          d("d1")
            .logs()
            .slice(logMark)
            .find((l) => l.event === "rs-up" && l.rs === b.address),
        10_000,
        5,
      );
      const decidedAt = Date.parse(rsUp.time as string);
      const shownAt = await waitFor(
        "a frame showing b up at weight 3",
        () =>
          frames()
            .slice(seen)
            .some((f) => /\sup\s+3\s/.test(rowOf(f, b.address) ?? "")) && Date.now(),
        2000,
        10,
      );
      expect(shownAt - decidedAt).toBeLessThan(1000);

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
      // Back to healthy before the next test: the pair takes a out, then back in.
      await waitForCommand(d("d1"), new RegExp(`^ipvsadm -d -t ${VIP} ${rsArg(a.address)}$`));
      const from = dryRunCommands(d("d1")).length;
      a.setStatus(200);
      await waitForCommand(d("d1"), new RegExp(`^ipvsadm -a -t ${VIP} ${rsArg(a.address)} -g -w 1$`), from);
    } finally {
      await watch.stop("SIGTERM");
    }
    expect((await watch.exited).code).toBe(0);
  }, 30_000);

  it("admin drain is applied by the real directors, shows in status and explain, and survives restarts", async () => {
    const drainA = new RegExp(`^ipvsadm -(a|e) -t ${VIP} ${rsArg(a.address)} -g -w 0$`);
    const marks = new Map(["d1", "d2"].map((id) => [id, dryRunCommands(d(id)).length]));
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
    const entry = await (await bus.kv(buckets.admin("e2e"))).get(kvKeys.admin("web", a.address));
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

    // Both kernels (dry-run) get weight 0; the leader explains it by the admin rule.
    for (const id of ["d1", "d2"]) await waitForCommand(d(id), drainA, marks.get(id));
    const explained = await explainRs(config, "d1", "web", a.address);
    expect(explained.rs).toMatchObject({
      in: true,
      weight: 0,
      rule: "admin-drain",
      admin: { action: "drain" },
    });
    const rsA = realServer(await statusJson(), a.address);
    expect(rsA).toMatchObject({
      state: "draining",
      weight: 0,
      admin: { action: "drain", reason: "kernel upgrade" },
    });
    expect(rsA.admin!.author).toMatch(/^alice@/);

    // Restart the leader: d2 takes over; the new d1 process starts from an empty table and follows.
    expect((await d("d1").stop("SIGTERM")).code).toBe(0);
    await waitFor("d2 leads", () => leaderSeenBy(d("d2")) === "d2");
    directors.set("d1", await startDirector(config, "d1"));
    await waitFor("the new d1 follows d2", () => leaderSeenBy(d("d1")) === "d2");
    await waitForCommand(d("d1"), drainA);
    // Then restart the other one: the restarted d1 leads from its own engine, which re-read the admin KV.
    expect((await d("d2").stop("SIGTERM")).code).toBe(0);
    await waitFor("the new d1 leads", () => leaderSeenBy(d("d1")) === "d1");
    directors.set("d2", await startDirector(config, "d2"));
    await waitFor("the new d2 follows d1", () => leaderSeenBy(d("d2")) === "d1");
    await waitForCommand(d("d2"), drainA);
    const after = await explainRs(config, "d1", "web", a.address);
    expect(after.decidedBy).toMatchObject({ director: "d1", leader: true });
    expect(after.rs).toMatchObject({ in: true, weight: 0, rule: "admin-drain" });
    expect(dryRunCommands(d("d1")).some((c) => c.includes(a.address) && !drainA.test(c))).toBe(false);
    expect(realServer(await statusJson(), a.address)).toMatchObject({ state: "draining", weight: 0 });

    // enable ends the override: both directors put a back at its configured weight.
    const back = new Map(["d1", "d2"].map((id) => [id, dryRunCommands(d(id)).length]));
    const enable = startLvsq(["admin", "enable", "web", a.address, "--config", config]);
    expect((await enable.exited).code).toBe(0);
    expect(enable.lines.join("\n")).toContain("previous: drain by alice@");
    for (const id of ["d1", "d2"])
      await waitForCommand(
        d(id),
        new RegExp(`^ipvsadm -e -t ${VIP} ${rsArg(a.address)} -g -w 1$`),
        back.get(id),
      );
    expect((await explainRs(config, "d2", "web", a.address)).rs).toMatchObject({
      weight: 1,
      rule: "quorum-up",
    });

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
  }, 50_000);

  it("flags a pair member whose kernel table differs from the pair's", async () => {
    // d3 (not in status's config) joins pair edge with a config that also owns service `extra`, which its
    // kernel already has: the leader writes no record for `extra`, so d3 keeps it and its table differs.
    // No IPVS here: d3's `ipvsadm -S -n` is a stand-in that prints that kernel table (dry-run only reads).
    const dir = dirname(config);
    const ipvsadm = join(dir, "ipvsadm-with-extra");
    writeFileSync(ipvsadm, `#!/bin/sh\n[ "$1" = -S ] && echo '-A -t 192.0.2.11:80 -s wlc'\nexit 0\n`, {
      mode: 0o755,
    });
    const extra = `  extra:\n    vip: 192.0.2.11:80\n    realServers: [{ address: ${a.address} }]\ndirector: { ipvsadm: ${ipvsadm}, driver: ipvsadm }\n`;
    const d3 = await startDirector(tempConfig(FLEET(nats.url, a, b, extra)), "d3");
    try {
      await waitFor("d3 follows d1", () => leaderSeenBy(d3) === "d1");
      // Its commands start with the stand-in's path.
      await waitForCommand(d3, new RegExp(`ipvsadm-with-extra -a -t ${VIP} ${rsArg(b.address)} `));
      expect(dryRunCommands(d3).some((c) => c.includes("192.0.2.11"))).toBe(false);
      // d3 is not in status's config, so a one-shot may print before it is heard: watch until all are.
      const ndjson = startLvsq(["status", "--config", config, "--watch", "--json"]);
      const table = startLvsq(["status", "--config", config, "--watch"]);
      try {
        const snapshot = await waitFor("a snapshot where all three directors report their role", () =>
          ndjson.lines
            .filter((line) => line.startsWith('{"v":1,'))
            .map((line) => JSON.parse(line) as FleetSnapshot)
            .findLast(
              (x) =>
                x.directors.length === 3 &&
                x.directors.every(
                  (y) => y.freshness === "fresh" && (y.role === "leader" || y.role === "follower"),
                ),
            ),
        );
        expect(snapshot.directors.map((x) => [x.id, x.configured, x.role, x.digestMismatch])).toEqual([
          ["d1", true, "leader", false],
          ["d2", true, "follower", false],
          ["d3", false, "follower", true],
        ]);
        expect(snapshot.summary.directors.digestMismatch).toBe(1);
        await waitFor("a frame flagging d3", () =>
          /\n\s+d3 .*TABLE DIFFERS FROM PAIR/.test(table.lines.join("\n")),
        );
      } finally {
        await Promise.all([ndjson.stop(), table.stop()]);
      }
    } finally {
      await d3.stop("SIGTERM");
    }
  }, 30_000);
});
