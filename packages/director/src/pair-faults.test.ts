import { buckets } from "@lvsq/protocol";
import { describe, expect, it } from "vitest";
import { PairSim } from "./pair-sim.js";

// What JetStream really does to a pair, one fault at a time, on the simulated pair: the admin bucket
// unreadable at start, bucket sequences that restart, the desired bucket failing alone, a second process
// with the same director id, a renewal whose reply is lost. Each names the docs/pairs.md guarantee it checks.

const TTL = 3000;
const RS1 = "10.0.0.1:80";

async function pair(): Promise<PairSim> {
  const sim = new PairSim();
  await sim.init();
  return sim;
}

async function running(): Promise<PairSim> {
  const sim = await pair();
  await sim.start("a");
  await sim.voteRound();
  await sim.poll("a");
  await sim.start("b");
  await sim.voteRound();
  await sim.pollAll();
  expect(sim.director("a").agent!.role).toBe("leader");
  expect(sim.director("b").agent!.role).toBe("follower");
  return sim;
}

async function members(sim: PairSim, id: string): Promise<string[]> {
  const table = await sim.kernel(id);
  return (table.services[0]?.realServers ?? []).map((rs) => rs.address).sort();
}

/** Time passes in lease rounds: every director polls, probes vote. */
async function rounds(sim: PairSim, count: number, stepMs = 500): Promise<void> {
  for (let i = 0; i < count; i++) {
    await sim.advance(stepMs);
    await sim.voteRound();
    await sim.pollAll();
  }
}

/** A running pair whose follower b was cut off while RS1 failed: the leader's record has it out, b's kernel in. */
async function followerMissedRemoval(): Promise<PairSim> {
  const sim = await running();
  sim.partition("b", true);
  sim.truth.set(RS1, "down");
  await rounds(sim, 4);
  expect(await members(sim, "a")).not.toContain(RS1);
  expect(await members(sim, "b")).toContain(RS1);
  return sim;
}

describe("director pair under JetStream faults (simulated)", () => {
  it("a director whose admin bucket is unreadable does not lead; once read, the override holds", async () => {
    const sim = await pair();
    await sim.adminWrite(RS1, "disable");
    sim.network.setBucketFault(buckets.admin("sim"), "unavailable");
    await sim.start("a");
    await sim.voteRound();
    await rounds(sim, 3);
    // Every vote says RS1 is up; only the override keeps it out, and this director has not read it.
    expect(sim.director("a").agent!.role).not.toBe("leader");
    expect(sim.deciders()).toEqual([]);
    expect(await members(sim, "a")).not.toContain(RS1);
    sim.network.setBucketFault(buckets.admin("sim"), "ok");
    await rounds(sim, 2);
    expect(sim.director("a").agent!.role).toBe("leader");
    expect(await members(sim, "a")).toEqual(["10.0.0.2:80", "10.0.0.3:80"]);
    await sim.dispose();
  });

  it("a leader that loses the admin bucket for longer than the staleness bound steps down", async () => {
    const sim = await running();
    sim.network.setBucketFault(buckets.admin("sim"), "unavailable");
    await rounds(sim, 40); // 20 s of failed re-reads
    expect(sim.deciders()).toEqual([]);
    sim.network.setBucketFault(buckets.admin("sim"), "ok");
    await rounds(sim, 2 * (TTL / 500));
    expect(sim.deciders()).toHaveLength(1);
    await sim.dispose();
  });

  it("both buckets recreated (sequences restart): the follower follows again, no write loop", async () => {
    const sim = await running();
    sim.truth.set("10.0.0.2:80", "down");
    await rounds(sim, 2);
    expect(await members(sim, "b")).toEqual([RS1, "10.0.0.3:80"]);
    const epochBefore = sim.director("b").agent!.stats().epoch;
    sim.network.resetBucket(buckets.leases("sim"));
    sim.network.resetBucket(buckets.desired("sim"));
    await rounds(sim, 2 * (TTL / 500));
    const writesAfterReset = sim.writes.length;
    sim.truth.set("10.0.0.2:80", "up");
    sim.truth.set("10.0.0.3:80", "down");
    await rounds(sim, 2 * (TTL / 500));
    const leader = sim.deciders();
    expect(leader).toHaveLength(1);
    expect(await members(sim, "a")).toEqual([RS1, "10.0.0.2:80"]);
    expect(await members(sim, "b")).toEqual([RS1, "10.0.0.2:80"]);
    // Epochs keep growing across the reset (the taking write's floor), and a quiet pair writes nothing.
    expect(sim.director(leader[0]!).agent!.stats().epoch).toBeGreaterThan(epochBefore);
    const quiet = sim.writes.length;
    await rounds(sim, 10);
    expect(sim.writes.length).toBe(quiet);
    expect(quiet - writesAfterReset).toBeLessThan(10);
    await sim.dispose();
  });

  it("the desired bucket failing alone: the leader steps down instead of deciding unseen", async () => {
    const sim = await running();
    sim.network.setBucketFault(buckets.desired("sim"), "unavailable");
    sim.truth.set("10.0.0.2:80", "down");
    await rounds(sim, 2 * (TTL / 500) + 2);
    // Holding the lease implies publishing: nobody decides while no record can be written.
    expect(sim.deciders()).toEqual([]);
    sim.network.setBucketFault(buckets.desired("sim"), "ok");
    await rounds(sim, 3 * (TTL / 500));
    expect(sim.deciders()).toHaveLength(1);
    expect(await members(sim, "a")).toEqual([RS1, "10.0.0.3:80"]);
    expect(await sim.kernelDigest("b")).toBe(await sim.kernelDigest("a"));
    await sim.dispose();
  });

  it("a second process with the same id waits for the key instead of taking it every round", async () => {
    const sim = await running();
    const epoch = sim.director("a").agent!.stats().epoch;
    const twin = await sim.startTwin("a");
    await rounds(sim, 12);
    expect(sim.director("a").agent!.role).toBe("leader");
    expect(sim.director("a").agent!.stats().epoch).toBe(epoch);
    expect(twin.agent!.role).toBe("follower");
    expect(sim.director("a").agent!.pair!.counts.takeovers).toBe(1);
    await sim.crash("a");
    await rounds(sim, 2 * (TTL / 500));
    expect(sim.deciders()).toHaveLength(1);
    await sim.dispose();
  });

  it("a renewal that timed out but landed keeps the term: no new epoch, no records rewritten", async () => {
    const sim = await running();
    const epoch = sim.director("a").agent!.stats().epoch;
    const written = sim.director("a").agent!.pair!.counts.recordsWritten;
    let lost = 0;
    sim.network.setKvFaultHook((op) =>
      op.client === "a" && op.bucket === buckets.leases("sim") && op.op === "update" && lost++ === 0
        ? "reply-lost"
        : "ok",
    );
    await rounds(sim, 4);
    expect(lost).toBeGreaterThan(1);
    expect(sim.director("a").agent!.role).toBe("leader");
    expect(sim.director("a").agent!.stats().epoch).toBe(epoch);
    expect(sim.director("a").agent!.pair!.counts.takeovers).toBe(1);
    expect(sim.director("a").agent!.pair!.counts.recordsWritten).toBe(written);
    await sim.dispose();
  });

  it("the lease bucket made again while a follower was isolated: it rejoins and applies the new term", async () => {
    const sim = await running();
    const b = sim.director("b").agent!;
    sim.network.setBucketFault(buckets.leases("sim"), "unavailable");
    await sim.poll("b");
    expect(b.role).toBe("isolated");
    sim.network.resetBucket(buckets.leases("sim"));
    sim.network.setBucketFault(buckets.leases("sim"), "ok");
    // The leader takes a new term on the new bucket and writes every record; b's watch delivers them.
    await sim.poll("a");
    const a = sim.director("a").agent!;
    expect(a.role).toBe("leader");
    await rounds(sim, 2 * (TTL / 500));
    // Noticing the reset must not leave b without the records it already holds (and "seen" on re-read).
    expect(b.role).toBe("follower");
    expect(b.stats().appliedEpoch).toBe(a.stats().epoch);
    expect(b.pair!.decidedBy("web").epoch).toBe(a.stats().epoch);
    await sim.dispose();
  });

  it("a director started just after the lease bucket was made again does not lead beside the old holder", async () => {
    const sim = await running();
    sim.network.resetBucket(buckets.leases("sim"));
    await sim.crash("b");
    await sim.start("b");
    await sim.poll("b");
    // The empty key looks like an expired one to b; a still holds its lease by its local clock.
    expect(sim.director("a").agent!.pair!.mayDecide()).toBe(true);
    expect(sim.deciders()).toEqual(["a"]);
    await rounds(sim, 2 * (TTL / 500));
    expect(sim.deciders()).toHaveLength(1);
    expect(await sim.kernelDigest("b")).toBe(await sim.kernelDigest("a"));
    await sim.dispose();
  });

  it("a leader whose lease bucket was made again never renews on the new stream by a coincidence of revisions", async () => {
    const sim = await running();
    const leases = await sim.network.connect("reader").kv(buckets.leases("sim"));
    const held = (await leases.get("edge"))!.revision;
    sim.network.resetBucket(buckets.leases("sim"));
    sim.network.resetBucket(buckets.desired("sim"));
    await sim.crash("b");
    // b sees two empty buckets, the lease bucket younger than a lease time: it holds off for one (a may
    // still believe in the old key), then leads (revision 1).
    await sim.start("b");
    await sim.advance(TTL + 100);
    await sim.poll("b");
    // b renews until the new key is at the revision a holds for the old one.
    for (let i = 0; i < 10 && (await leases.get("edge"))!.revision < held; i++) {
      await sim.advance(100);
      await sim.poll("b");
    }
    expect((await leases.get("edge"))!.revision).toBe(held);
    expect(sim.director("b").agent!.role).toBe("leader");
    await sim.poll("a");
    // a noticed the new bucket: its old revision must not pass the new key's compare-and-set.
    expect(sim.director("a").agent!.role).toBe("follower");
    expect(sim.deciders()).toEqual(["b"]);
    await rounds(sim, 2 * (TTL / 500));
    expect(sim.deciders()).toEqual(["b"]);
    expect(await sim.kernelDigest("a")).toBe(await sim.kernelDigest("b"));
    await sim.dispose();
  });

  it("a late old-epoch record under a leader whose watch died: the leader's re-read finds it and rewrites it", async () => {
    const sim = await running();
    await sim.advance(TTL + 500); // a's lease lapses unrenewed; it takes a new term at its next round
    await sim.poll("a");
    const a = sim.director("a").agent!;
    expect(a.stats().epoch).toBeGreaterThan(1);
    sim.network.killWatchers("a");
    await sim.rogueWrite(1, [RS1]);
    await sim.crash("b");
    await sim.start("b"); // recovers only the late record, which is older than the lease's term
    await rounds(sim, 2 * (TTL / 500));
    const b = sim.director("b").agent!;
    expect(b.stats().appliedEpoch).toBe(a.stats().epoch);
    expect(sim.writes.at(-1)!.epoch).toBe(a.stats().epoch);
    expect(await sim.kernelDigest("b")).toBe(await sim.kernelDigest("a"));
    await sim.dispose();
  });

  it("a follower rejoining to a record stale in substance keeps a server its own fresh quorum has up", async () => {
    // The long chaos run's seed 404589923: the follower missed a removal; the leader, cut off when the
    // server came back, never rewrote its record; on rejoining, the follower would have applied it.
    const sim = await followerMissedRemoval();
    sim.partition("a", true);
    sim.truth.set(RS1, "up");
    sim.partition("b", false);
    const rejoined = sim.director("b").submits.length;
    for (let i = 0; i < 2 * (TTL / 500); i++) {
      await rounds(sim, 1);
      expect(await members(sim, "b"), `b's table ${i * 500} ms after rejoining`).toContain(RS1);
    }
    const after = sim.director("b").submits.slice(rejoined);
    expect(after.map((s) => s.role)).toContain("follower");
    expect(after.flatMap((s) => s.removedWhileUp)).toEqual([]);
    expect(sim.director("b").agent!.pair!.counts.removalsHeldBack).toBe(1);
    // Once b leads (a's lease ran out), its own decision is the pair's record.
    expect(sim.director("b").agent!.role).toBe("leader");
    await sim.dispose();
  });

  it("a record disproved by newer votes stays disproved when the votes stop (broker trouble, a flood)", async () => {
    // The long chaos run's seed 1202654448: the desired bucket unwritable for a minute, both directors
    // leading and stepping down in turn, and a flood that delayed every real vote past its TTL.
    const sim = await followerMissedRemoval();
    sim.network.setBucketFault(buckets.desired("sim"), "unavailable");
    sim.truth.set(RS1, "up");
    sim.partition("b", false);
    await rounds(sim, 3);
    for (const id of ["a", "b"]) expect(await members(sim, id), id).toContain(RS1);
    // No votes for three vote TTLs: every verdict goes fail-static, and the stale record is all there is.
    for (let i = 0; i < 36; i++) {
      await sim.advance(500);
      for (const id of ["a", "b"]) sim.director(id).agent!.tick();
      await sim.pollAll();
      for (const id of ["a", "b"]) expect(await members(sim, id), `${id} at ${i * 500} ms`).toContain(RS1);
    }
    await sim.dispose();
  });
});
