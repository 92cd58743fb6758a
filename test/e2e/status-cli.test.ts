import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLvsq, waitFor } from "../harness/agents.js";
import { dryRunCommands, rsArg, waitForCommand } from "./status-fleet.js";
import { type PairFleet, realServer, startPairFleet, VIP } from "./status-pair-fleet.js";

// `lvsq status` (JSON, table, --watch) against real probes and a real director pair (status-pair-fleet.ts).
// The test only switches the loopback backends' health and listens to the vote batches to time the probes'
// flips. The admin overrides and the pair's digest check are in status-admin.test.ts.

const CLEAR_SCREEN = "\x1b[H\x1b[2J";

describe("lvsq status against real probes and a real director pair", () => {
  let fleet: PairFleet;
  const d = (id: string) => fleet.d(id);

  beforeAll(async () => {
    fleet = await startPairFleet();
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  });

  it("status --json lists every director, probe and service with correct states after a backend failure", async () => {
    fleet.b.setStatus(503);
    // Both directors of the pair take b out of their (dry-run) tables: the leader decides, the follower
    // applies the leader's record.
    for (const id of ["d1", "d2"])
      await waitForCommand(d(id), new RegExp(`^ipvsadm -d -t ${VIP} ${rsArg(fleet.b.address)}$`));

    const snapshot = await fleet.statusJson();
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

    const rsA = realServer(snapshot, fleet.a.address);
    const rsB = realServer(snapshot, fleet.b.address);
    expect(rsA).toMatchObject({ state: "up", weight: 1, source: "director", quorum: { verdict: "up" } });
    expect(rsB).toMatchObject({ state: "down", weight: null, source: "director" });
    expect(rsB.director).toMatchObject({ inTable: false, by: "d1", rule: "quorum-down" });
    expect(rsB.quorum).toMatchObject({ by: "site", down: 2, up: 0, total: 2, verdict: "down" });
    expect(rsB.sites.map((s) => [s.site, s.verdict, s.votes[0]?.probe])).toEqual([
      ["s1", "down", "p1"],
      ["s2", "down", "p2"],
    ]);
    expect(rsB.sites[0]!.votes[0]!.reason).toContain("503");

    const table = startLvsq(["status", "--config", fleet.config]);
    expect((await table.exited).code).toBe(0);
    const text = table.lines.join("\n");
    expect(text).toContain("directors 2/2 fresh · probes 2/2 fresh");
    expect(text).not.toContain("TABLE DIFFERS FROM PAIR");
    expect(text).toMatch(/\n\s+d1\s+edge\s+leader\s/);
    expect(text).toMatch(new RegExp(`${fleet.b.address.replace(/\./g, "\\.")}\\s+down\\s`));
  }, 40_000);

  it("status --watch redraws within 1 s of the director's transition and of a probe's vote flip", async () => {
    const watch = startLvsq(["status", "--config", fleet.config, "--watch"]);
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
        frames().some((f) => /\sdown\s/.test(rowOf(f, fleet.b.address) ?? "")),
      );

      // The director's transition: b recovers, the probes vote it up, d1 logs rs-up and publishes it.
      const seen = frames().length;
      const logMark = d("d1").logs().length;
      fleet.b.setStatus(200);
      const rsUp = await waitFor(
        "d1's rs-up for b",
        () =>
          d("d1")
            .logs()
            .slice(logMark)
            .find((l) => l.event === "rs-up" && l.rs === fleet.b.address),
        10_000,
        5,
      );
      const decidedAt = Date.parse(rsUp.time as string);
      const shownAt = await waitFor(
        "a frame showing b up at weight 3",
        () =>
          frames()
            .slice(seen)
            .some((f) => /\sup\s+3\s/.test(rowOf(f, fleet.b.address) ?? "")) && Date.now(),
        2000,
        10,
      );
      expect(shownAt - decidedAt).toBeLessThan(1000);

      // A real probe flip: a fails; the frame's votes column for a shows ✗ within 1 s of the flipped batch.
      fleet.a.setStatus(503);
      const flip = await waitFor(
        "p1's batch with a down",
        () => {
          const batch = fleet.batches.findLast(
            (x) => x.probe === "p1" && x.votes.some((v) => v.rs === fleet.a.address && v.state === "down"),
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
            .some((f) => (rowOf(f, fleet.a.address) ?? "").includes("s1:✗")),
        1000,
        10,
      );
      // Back to healthy before the next test: the pair takes a out, then back in.
      await waitForCommand(d("d1"), new RegExp(`^ipvsadm -d -t ${VIP} ${rsArg(fleet.a.address)}$`));
      const from = dryRunCommands(d("d1")).length;
      fleet.a.setStatus(200);
      await waitForCommand(
        d("d1"),
        new RegExp(`^ipvsadm -a -t ${VIP} ${rsArg(fleet.a.address)} -m -w 1$`),
        from,
      );
    } finally {
      await watch.stop("SIGTERM");
    }
    expect((await watch.exited).code).toBe(0);
  }, 30_000);
});
