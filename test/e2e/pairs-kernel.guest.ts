// Runs INSIDE the guest: a director pair on two real kernel IPVS tables (two network namespaces), three
// probe sites and a real nats-server (the hosts are pairs-kernel.hosts.ts). Each director is this same
// bundle started as `ip netns exec ns-X node <bundle> --director ID CONFIG URL`; it reaches NATS through a
// TCP proxy in the root namespace that the scenario can cut (a partition). Raw observations go to
// results.json; pairs-kernel.test.ts asserts on them on the host.
import {
  closeHttpServers,
  exitOnCrash,
  startHttpServers,
  waitFor as waitForUnscaled,
  writeResult,
} from "../harness/in-guest.js";
import {
  LEASE_TTL_MS,
  pairWorld,
  RS,
  runDirector,
  same,
  TIME_SCALE,
  table,
  wanted,
} from "./pairs-kernel.hosts.js";

const { env } = process;
const out = env.LVSQ_GUEST_OUT ?? ".";

async function main(): Promise<void> {
  // The test derives its bounds from the timers this run used (longer under QEMU's emulation).
  const results: Record<string, unknown> = {
    leaseTtlMs: LEASE_TTL_MS,
    timeScale: TIME_SCALE,
    nodeStartMs: Number(env.LVSQ_GUEST_NODE_START_MS ?? 0),
  };
  const log: string[] = [];
  const save = () => writeResult("results.json", { ...results, log: log.slice(-400) });
  exitOnCrash((error) => {
    results.error = error;
    save();
  });
  const world = pairWorld(out, log);
  try {
    await world.setUp();
    const { backends, directors, heartbeats, leaderChanges, startDirector } = world;
    const a = directors["lvs-a"]!;
    const b = directors["lvs-b"]!;
    startDirector(a);
    startDirector(b);
    const roleOf = (id: string) => heartbeats.get(id)?.role;
    const waitFor = <T>(what: string, test: () => T | undefined, timeoutMs: number) =>
      waitForUnscaled(what, test, timeoutMs * TIME_SCALE);
    const both = (up: readonly string[], timeoutMs = 20_000) =>
      waitFor(
        `both tables = ${up.join(",")}`,
        () => (same(table(a.anchor), wanted(up)) && same(table(b.anchor), wanted(up)) ? true : undefined),
        timeoutMs,
      );
    await both(RS, 40_000);
    await waitFor(
      "one leader, one follower",
      () => {
        const roles = [roleOf("lvs-a"), roleOf("lvs-b")].sort().join(",");
        return roles === "follower,leader" ? roles : undefined;
      },
      10_000,
    );
    results.started = { a: table(a.anchor), b: table(b.anchor), roles: [roleOf("lvs-a"), roleOf("lvs-b")] };
    save();

    // 1. Failures and recoveries: the follower's table follows the leader's within 1 s each time.
    const lag: { change: string; leaderMs: number; followerMs: number }[] = [];
    const leaderNow = () => (roleOf("lvs-a") === "leader" ? a : b);
    const step = async (change: string, act: () => Promise<void>, up: readonly string[]) => {
      const leader = leaderNow();
      const follower = leader === a ? b : a;
      const started = Date.now();
      await act();
      let leaderAt = 0;
      let followerAt = 0;
      await waitFor(
        change,
        () => {
          const now = Date.now() - started;
          if (!leaderAt && same(table(leader.anchor), wanted(up))) leaderAt = now;
          if (!followerAt && same(table(follower.anchor), wanted(up))) followerAt = now;
          return leaderAt && followerAt ? true : undefined;
        },
        15_000,
      );
      lag.push({ change, leaderMs: leaderAt, followerMs: followerAt });
    };
    const fail = async (rs: string) => {
      await closeHttpServers([backends.get(rs)!]);
    };
    const recover = async (rs: string) => {
      backends.set(rs, (await startHttpServers([rs.split(":")[0]!], 8080))[0]!);
    };
    await step("127.0.0.3 down", () => fail(RS[1]), [RS[0], RS[2]]);
    await step("127.0.0.4 down", () => fail(RS[2]), [RS[0]]);
    await step("127.0.0.3 up", () => recover(RS[1]), [RS[0], RS[1]]);
    await step("127.0.0.4 up", () => recover(RS[2]), RS);
    results.lag = lag;
    save();

    // 2. Kill the leader: the follower takes over once the lease lapses, and keeps applying.
    const killed = leaderNow();
    const survivor = killed === a ? b : a;
    const changesBefore = leaderChanges.length;
    const killedAt = Date.now();
    killed.child!.kill("SIGKILL");
    const takeover = await waitFor(
      "the survivor leads",
      () => leaderChanges.slice(changesBefore).find((c) => c.leader === survivor.id),
      10_000,
    );
    results.takeover = {
      killed: killed.id,
      survivor: survivor.id,
      ms: takeover.at - killedAt,
      epoch: takeover.epoch,
    };
    const killedTable = table(killed.anchor);
    await fail(RS[0]);
    await waitFor(
      "survivor applies a failure",
      () => (same(table(survivor.anchor), wanted([RS[1], RS[2]])) ? true : undefined),
      10_000,
    );
    results.afterKill = {
      survivor: table(survivor.anchor),
      killed: table(killed.anchor),
      killedTableAtKill: killedTable,
    };
    save();

    // 3. The old leader returns: it follows, and its return changes nothing in the survivor's table.
    const survivorBefore = table(survivor.anchor);
    let survivorChanged = false;
    heartbeats.delete(killed.id);
    startDirector(killed);
    await waitFor(
      "the old leader is back as follower",
      () => {
        if (!same(table(survivor.anchor), survivorBefore)) survivorChanged = true;
        return roleOf(killed.id) === "follower" && same(table(killed.anchor), survivorBefore)
          ? true
          : undefined;
      },
      20_000,
    );
    results.returned = {
      role: roleOf(killed.id),
      survivorChanged,
      tables: { survivor: table(survivor.anchor), returned: table(killed.anchor) },
      leader: roleOf(survivor.id),
    };
    save();

    // 4. Partition the leader from NATS: it keeps its table, the follower takes over, tables reconverge.
    const cutOff = survivor;
    const other = killed;
    const kept = table(cutOff.anchor);
    const changesBeforeCut = leaderChanges.length;
    const cutAt = Date.now();
    cutOff.proxy.cut();
    const second = await waitFor(
      "the other director leads",
      () => leaderChanges.slice(changesBeforeCut).find((c) => c.leader === other.id),
      10_000,
    );
    await recover(RS[0]);
    await waitFor(
      "new leader applies a recovery",
      () => (same(table(other.anchor), wanted(RS)) ? true : undefined),
      10_000,
    );
    const keptDuring = table(cutOff.anchor);
    const isolatedLogged = log.some(
      (line) => line.startsWith(cutOff.id) && line.includes('"event":"isolated"'),
    );
    await cutOff.proxy.listen();
    const healedAt = Date.now();
    await waitFor(
      "the cut-off director rejoins as follower",
      () =>
        roleOf(cutOff.id) === "follower" && same(table(cutOff.anchor), table(other.anchor))
          ? true
          : undefined,
      20_000,
    );
    results.partition = {
      cutOff: cutOff.id,
      takeoverMs: second.at - cutAt,
      keptBefore: kept,
      keptDuring,
      isolatedLogged,
      reconvergedMs: Date.now() - healedAt,
      tables: { cutOff: table(cutOff.anchor), other: table(other.anchor) },
      roles: { [cutOff.id]: roleOf(cutOff.id), [other.id]: roleOf(other.id) },
    };
    // Heartbeats come every 300 ms: wait for a pair of them sent after the rejoin settled.
    await waitFor(
      "heartbeats with the same epoch and applied epoch",
      () => {
        const beats = [heartbeats.get("lvs-a"), heartbeats.get("lvs-b")];
        const epoch = beats[0]?.epoch;
        return beats.every((hb) => hb && hb.epoch === epoch && hb.appliedEpoch === epoch) ? true : undefined;
      },
      5_000,
    ).catch(() => undefined);
    results.heartbeats = Object.fromEntries(heartbeats);
    results.done = true;
  } catch (error) {
    results.error = String((error as Error).stack ?? error);
  } finally {
    save();
    await world.close();
    save();
    process.exit(0);
  }
}

// Last, so every module-level constant above is initialised before the scenario runs.
if (process.argv[2] === "--director") await runDirector(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else await main();
