// The demo's last chapter: the pair's leader is killed, the standby takes over and keeps deciding, the old
// leader returns as follower; then `lvsq status` shows the whole fleet.
import { join } from "node:path";
import type { ClientSample, startBackends } from "../harness/fleet-agents.js";
import { poll } from "../harness/fleet-watch.js";
import { runAsync } from "../harness/in-guest.js";
import type { Narrator } from "./narrate.js";
import { type BusWatch, type DirectorHost, leaderChangedAfter, roleOf } from "./pair-hosts.js";

export type PairStory = {
  say: Narrator;
  bus: BusWatch;
  /** lvs-a (holds the VIP, leads first) and lvs-b (the standby). */
  a: DirectorHost;
  b: DirectorHost;
  backends: Awaited<ReturnType<typeof startBackends>>;
  /** The backend to kill while lvs-a is down. */
  victim: string;
  leaseTtlMs: number;
  /** The guest's time scale (in-guest.ts, guestTimeScale): the story's waits and slack stretch by it. */
  timeScale: number;
  /** What the client (on lvs-a's VIP) has seen so far. */
  clientSamples(): ClientSample[];
  repo: string;
  config: string;
  show(since: number, options?: { explain?: boolean; settle?: boolean }): Promise<void>;
};

export async function pairSteps(s: PairStory): Promise<void> {
  const { say, bus, a, b } = s;
  const S = s.timeScale;
  let since = Date.now();
  let frozen = "";
  let killedAt = 0;
  const limitMs = s.leaseTtlMs + 1000 * S;
  await say.step(
    "The leader lvs-a is killed (SIGKILL)",
    `lvs-b leads within lease time + ${S} s (${limitMs / 1000} s); lvs-a's kernel table stays exactly as it was`,
    async () => {
      if (roleOf(a, bus).role !== "leader") throw new Error(`lvs-a is ${roleOf(a, bus).role}, not leader`);
      frozen = a.text();
      killedAt = await a.kill();
      const takeover = await poll(
        "lvs-b's leader-changed event",
        () => leaderChangedAfter(bus, "lvs-b", killedAt),
        10_000 * S,
      );
      const tookMs = takeover.at - killedAt;
      if (tookMs > limitMs) throw new Error(`lvs-b took ${tookMs} ms to lead (limit ${limitMs} ms)`);
      if (a.text() !== frozen || a.table.changesSince(killedAt).length > 0)
        throw new Error(`lvs-a's table changed after the kill: ${a.text()}`);
      const flap = Number(takeover.event.changedAtTakeover ?? 0);
      return (
        `lvs-b leads at epoch ${takeover.epoch}, ${(tookMs / 1000).toFixed(2)} s after the kill ` +
        `(${flap} service${flap === 1 ? "" : "s"} changed at takeover); lvs-a's table is untouched`
      );
    },
  );
  await s.show(since, { explain: false });
  say.note("A killed lvsq never drains a VIP: lvs-a's kernel keeps forwarding with the table it had.");
  say.note("(An epoch is the revision of the lease write that began the term; every renewal counts.)");

  since = Date.now();
  await say.step(
    `Backend ${s.victim} dies while lvs-a is down`,
    "the new leader lvs-b removes it from its own table; lvs-a's table does not change (no director runs there)",
    async () => {
      const diedAt = await s.backends.kill(s.victim);
      await poll(
        "lvs-b removes it",
        () => (b.table.current()[s.victim] === undefined ? true : undefined),
        10_000 * S,
        10,
      );
      const tookS = ((Date.now() - diedAt) / 1000).toFixed(2);
      if (a.text() !== frozen) throw new Error(`lvs-a's table changed with no director: ${a.text()}`);
      return `lvs-b removed it ${tookS} s after it died; lvs-a still lists it`;
    },
  );
  await s.show(since);
  say.note(
    "The client still goes through lvs-a's frozen table, so its share of requests to the dead backend",
  );
  say.note(
    "fails. Moving the VIP to lvs-b (what VRRP does when lvs-a's node is down) would find lvs-b's table ready.",
  );

  since = Date.now();
  let convergedAt = 0;
  await say.step(
    "lvs-a is restarted",
    "it rejoins as follower (lvs-b keeps leading, its table untouched) and its table converges to lvs-b's",
    async () => {
      const leaderTable = b.text();
      const restartedAt = Date.now();
      const run = a.start();
      // Until its heartbeat says so too (same digest as the leader's, the leader's epoch applied), so that
      // `lvsq status` next sees the pair agree.
      const beat = await poll(
        "lvs-a following with lvs-b's table",
        () => {
          const mine = bus.latestHeartbeat("lvs-a");
          const leader = bus.latestHeartbeat("lvs-b");
          return mine &&
            mine.receivedAt > restartedAt &&
            mine.role === "follower" &&
            mine.tableDigest === leader?.tableDigest &&
            mine.appliedEpoch === leader?.epoch &&
            a.text() === b.text()
            ? mine
            : undefined;
        },
        20_000 * S,
        50,
      );
      if (b.text() !== leaderTable || b.table.changesSince(restartedAt).length > 0)
        throw new Error(`lvs-b's table changed when lvs-a returned: ${b.text()}`);
      if (roleOf(b, bus).role !== "leader") throw new Error(`lvs-b is ${roleOf(b, bus).role}, not leader`);
      convergedAt = a.table.changesSince(restartedAt).at(-1)?.t ?? Date.now();
      const firstLogAt = Date.parse(String(run.logs()[0]?.time ?? "")) || restartedAt;
      const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      return (
        `lvs-a follows at epoch ${beat.appliedEpoch}: its first log line came ${seconds(firstLogAt - restartedAt)} ` +
        `after the restart (node start), its table matched lvs-b's ${seconds(convergedAt - firstLogAt)} later; ` +
        "lvs-b's table did not change"
      );
    },
  );
  await s.show(since, { explain: false, settle: false }); // the client ran through the whole step
  const failed = s.clientSamples().filter((c) => c.t >= since && !c.ok);
  const after = failed.filter((c) => c.t > convergedAt).length;
  say.note(
    `Of the client's ${failed.length} failed requests in this step, ${failed.length - after} began before lvs-a's ` +
      `table converged and ${after} after.`,
  );

  await say.step(
    "The fleet at a glance: lvsq status",
    "both directors of pair edge (lvs-b leader, lvs-a follower) with the same table, 3 probes, 1 server down",
    async () => {
      const status = await runAsync(
        ["node", join(s.repo, "packages/cli/bin/lvsq.js"), "status", "--config", s.config],
        20_000 * S,
      );
      say.command("lvsq status --config fleet.yaml", status);
      for (const wanted of [
        "lvs-a",
        "lvs-b",
        "leader",
        "follower",
        "probe-a",
        "probe-b",
        "probe-c",
        s.victim,
      ])
        if (!status.includes(wanted)) throw new Error(`lvsq status does not mention ${wanted}`);
      if (status.includes("TABLE DIFFERS FROM PAIR"))
        throw new Error("lvsq status flags a table that differs");
      return "lvsq status lists both directors, the three probes and every real server";
    },
  );
  say.note("On a real deployment, the same view lives in a browser:");
  say.note("  lvsq status --config fleet.yaml --web 127.0.0.1:8080   then open http://127.0.0.1:8080");
  say.note("(This guest has no network to your machine, so the demo cannot serve the page to your browser.)");
}
