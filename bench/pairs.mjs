#!/usr/bin/env node
// Director pairs: takeover time after a leader crash, and the time from the leader's kernel apply to the
// follower's. Runs on the HOST: a real local nats-server (JetStream KV for the lease and desired records),
// two DirectorAgents in this process with in-memory kernel tables (the kernel apply itself is measured by
// bench/ipvs.mjs), votes published straight to NATS. Lease time 1 s to keep the run short (takeover
// scales with it: ≤ leaseTtl + leaseTtl/6). Needs `npx tsc -b packages/director` first. ~30 s.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNatsBus } from "@lvsq/bus";
import { parseConfig } from "@lvsq/config";
import { DirectorAgent } from "@lvsq/director";
import { createMemoryDriver } from "@lvsq/ipvs";
import { subjects, tableDigest } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";

const LEASE_TTL_MS = 1000;
const LAG_ROUNDS = 60;
const TAKEOVERS = 12;
const RS = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"];
const PROBES = [
  { id: "p1", site: "dc1" },
  { id: "p2", site: "dc2" },
  { id: "p3", site: "dc3" },
];
const logger = createLogger({ level: "silent" });

function startServer() {
  const which = spawnSync("sh", ["-c", "command -v nats-server || ls /usr/sbin/nats-server"], {
    encoding: "utf8",
  });
  const binary = which.stdout.trim().split("\n")[0];
  if (which.status !== 0 || !binary) throw new Error("nats-server not found: apt-get install -y nats-server");
  const dir = mkdtempSync(join(tmpdir(), "lvsq-bench-pairs-"));
  mkdirSync(join(dir, "ports"));
  writeFileSync(
    join(dir, "nats.conf"),
    `listen: "127.0.0.1:-1"\njetstream { store_dir: ${JSON.stringify(join(dir, "js"))} }\n`,
  );
  const child = spawn(binary, ["-c", join(dir, "nats.conf"), "--ports_file_dir", join(dir, "ports")], {
    stdio: "ignore",
  });
  return {
    child,
    dir,
    stop: () => {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitFor(what, test, timeoutMs = 10_000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await test();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function serverUrl(server) {
  return waitFor("nats-server port", () => {
    const file = readdirSync(join(server.dir, "ports")).find((n) => n.endsWith(`_${server.child.pid}.ports`));
    if (!file) return undefined;
    try {
      return JSON.parse(readFileSync(join(server.dir, "ports", file), "utf8")).nats[0];
    } catch {
      return undefined;
    }
  });
}

const config = parseConfig(
  JSON.stringify({
    cluster: "bench",
    quorum: { by: "site", voteTtl: "30s", startupGrace: "0s" },
    sites: ["dc1", "dc2", "dc3"],
    probes: PROBES,
    directors: [
      { id: "a", pair: "edge" },
      { id: "b", pair: "edge" },
    ],
    director: { leaseTtl: `${LEASE_TTL_MS}ms`, reconcileInterval: "1h" },
    services: {
      web: { vip: "192.0.2.10:80", scheduler: "wrr", realServers: RS.map((address) => ({ address })) },
    },
  }),
  "bench.yaml",
  { env: {} },
);

const percentile = (values, p) => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

async function main() {
  const server = startServer();
  const directors = new Map();
  try {
    const url = await serverUrl(server);
    const start = async (id) => {
      const bus = await connectNatsBus({ servers: url, name: `bench-${id}`, logger });
      const kernel = directors.get(id)?.kernel ?? createMemoryDriver();
      const applies = [];
      const driver = {
        read: () => kernel.read(),
        apply: async (ops) => {
          const result = await kernel.apply(ops);
          applies.push({ at: performance.now(), digest: tableDigest(await kernel.read()) });
          return result;
        },
      };
      const agent = await DirectorAgent.start({
        config,
        directorId: id,
        bus,
        driver,
        logger,
        heartbeatMs: 60_000,
      });
      directors.set(id, { id, bus, agent, kernel, applies });
    };
    const crash = async (id) => {
      const d = directors.get(id);
      await d.bus.close();
      await d.agent.stop();
    };
    await start("a");
    await start("b");
    const probes = await connectNatsBus({ servers: url, name: "bench-probes", logger });
    let seq = 1;
    const vote = (down) => {
      for (const probe of PROBES)
        probes.publish(subjects.votes("bench", probe.id, "web"), {
          v: 1,
          cluster: "bench",
          probe: probe.id,
          site: probe.site,
          service: "web",
          seq: seq++,
          sentAt: Date.now(),
          intervalMs: 1000,
          votes: RS.map((rs) => ({
            rs,
            state: down.includes(rs) ? "down" : "up",
            since: 0,
            latencyMs: 1,
            reason: "bench",
          })),
        });
    };
    const leader = () => [...directors.values()].find((d) => d.agent.role === "leader");
    await waitFor(
      "a leader",
      () => leader() && [...directors.values()].every((d) => d.agent.role !== "isolated"),
    );

    // Leader apply → follower apply, for a flip of one real server each round.
    const lag = [];
    for (let round = 0; round < LAG_ROUNDS; round++) {
      const lead = leader();
      const follow = [...directors.values()].find((d) => d !== lead);
      const mark = { lead: lead.applies.length, follow: follow.applies.length };
      vote(round % 2 === 0 ? [RS[round % 3]] : []);
      const leaderApply = await waitFor("leader apply", () => lead.applies[mark.lead]);
      const followerApply = await waitFor("follower apply", () =>
        follow.applies.slice(mark.follow).find((a) => a.digest === leaderApply.digest),
      );
      lag.push(followerApply.at - leaderApply.at);
    }

    // Crash the leader (no lease release), time until the other leads; bring the crashed one back.
    const takeover = [];
    for (let i = 0; i < TAKEOVERS; i++) {
      const lead = leader();
      const other = [...directors.values()].find((d) => d !== lead);
      const crashedAt = performance.now();
      await crash(lead.id);
      await waitFor("takeover", () => other.agent.role === "leader", 5 * LEASE_TTL_MS);
      takeover.push(performance.now() - crashedAt);
      await start(lead.id);
      await waitFor("the crashed director follows", () => directors.get(lead.id).agent.role === "follower");
    }
    await probes.close();

    const ms = (v) => v.toFixed(1);
    console.log(`  pair follower apply lag p50: ${ms(percentile(lag, 50))} ms`);
    console.log(`  pair follower apply lag p99: ${ms(percentile(lag, 99))} ms`);
    console.log(
      `  pair takeover after leader crash p50 (lease ${LEASE_TTL_MS} ms): ${ms(percentile(takeover, 50))} ms`,
    );
    console.log(
      `  pair takeover after leader crash p99 (lease ${LEASE_TTL_MS} ms): ${ms(percentile(takeover, 99))} ms`,
    );
  } finally {
    for (const d of directors.values()) {
      await d.bus.close().catch(() => {});
      await d.agent.stop().catch(() => {});
    }
    server.stop();
  }
}

await main();
process.exit(0);
