// Runs INSIDE the guest: a director pair on two real kernel IPVS tables (two network namespaces), three
// probe sites and a real nats-server. Each director is this same bundle started as
// `ip netns exec ns-X node <bundle> --director ID CONFIG URL`; it reaches NATS through a TCP proxy in the
// root namespace that the scenario can cut (a partition). Raw observations go to results.json;
// pairs-kernel.test.ts asserts on them on the host.
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { connectNatsBus } from "@lvsq/bus";
import { createCheckRunner } from "@lvsq/checks";
import { loadConfig } from "@lvsq/config";
import { DirectorAgent } from "@lvsq/director";
import { createIpvsadmDriver } from "@lvsq/ipvs";
import { ProbeAgent } from "@lvsq/probe";
import { DirectorHeartbeat, EventEnvelope, subjects } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { startNatsServer } from "../harness/nats.js";
import {
  addNetns,
  addVethPair,
  closeHttpServers,
  type LoopbackHttpServer,
  readKernelService,
  startHttpServers,
  waitFor,
  writeResult,
} from "../harness/in-guest.js";

const { env } = process;
const out = env.LVSQ_GUEST_OUT ?? ".";
const LEASE_TTL_MS = 2000;
const RS = ["127.0.0.2:8080", "127.0.0.3:8080", "127.0.0.4:8080"] as const;
const WEIGHTS: Record<string, number> = { "127.0.0.2:8080": 1, "127.0.0.3:8080": 2, "127.0.0.4:8080": 3 };

/** Director mode: what `lvsq director` wires, run from this bundle (sources, no build needed). */
async function runDirector(id: string, configFile: string, url: string): Promise<void> {
  const config = await loadConfig(configFile);
  const logger = createLogger({ bindings: { director: id, pair: "edge" } });
  const bus = await connectNatsBus({ servers: url, name: `director-${id}`, logger });
  const agent = await DirectorAgent.start({
    config,
    directorId: id,
    bus,
    driver: createIpvsadmDriver({ timeoutMs: 10_000 }),
    logger,
    heartbeatMs: 300,
  });
  process.on("SIGTERM", async () => {
    await agent.stop();
    await bus.close();
    process.exit(0);
  });
}

/** Real servers of the VIP in one namespace's table, read from /proc/<pid in it>/net/ip_vs (no exec). */
const table = (pid: number) => readKernelService(pid, "192.0.2.10", 80);
const same = (a: Record<string, number>, b: Record<string, number>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
const wanted = (up: readonly string[]) => Object.fromEntries(up.map((rs) => [rs, WEIGHTS[rs]!]));

/** A TCP proxy to NATS that can be cut (sockets destroyed, port closed) and healed on the same port. */
function natsProxy(host: string, natsPort: number) {
  let server: Server | undefined;
  let port = 0;
  const sockets = new Set<Socket>();
  const listen = () =>
    new Promise<void>((ready, fail) => {
      server = createServer((client) => {
        const upstream = netConnect(natsPort, "127.0.0.1");
        const end = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        for (const s of [client, upstream]) s.on("error", end).on("close", end);
      });
      server.once("error", fail);
      server.listen(port, host, () => {
        port = (server!.address() as { port: number }).port;
        ready();
      });
    });
  return {
    listen,
    url: () => `nats://${host}:${port}`,
    cut() {
      server?.close();
      for (const s of sockets) s.destroy();
    },
  };
}

type Director = {
  id: string;
  ns: string;
  anchor: number;
  proxy: ReturnType<typeof natsProxy>;
  child?: ChildProcess;
};

async function main(): Promise<void> {
  const results: Record<string, unknown> = {};
  const log: string[] = [];
  const save = () => writeResult("results.json", { ...results, log: log.slice(-400) });
  // A crash of this scenario process must say why, not leave an "incomplete" result behind.
  const crashed = (error: unknown) => {
    results.error = `scenario process crashed: ${String((error as Error)?.stack ?? error)}`;
    save();
    process.exit(1);
  };
  process.on("uncaughtException", crashed);
  process.on("unhandledRejection", crashed);
  const nats = await startNatsServer();
  const backends = new Map<string, LoopbackHttpServer>();
  const probes: ProbeAgent[] = [];
  const buses: { close(): Promise<void> }[] = [];
  const directors: Record<string, Director> = {};
  const heartbeats = new Map<string, DirectorHeartbeat>();
  const leaderChanges: { at: number; leader: string; epoch: number }[] = [];
  try {
    for (const [i, id] of ["lvs-a", "lvs-b"].entries()) {
      const ns = addNetns(`ns-${id}`);
      const hostSide = `198.51.100.${1 + 4 * i}`;
      addVethPair(
        { name: `v${i}h`, address: `${hostSide}/30` },
        { name: `v${i}n`, netns: ns, address: `198.51.100.${2 + 4 * i}/30` },
      );
      const anchor = spawn("ip", ["netns", "exec", ns, "sleep", "600"], { stdio: "ignore" });
      const proxy = natsProxy(hostSide, nats.port);
      await proxy.listen();
      directors[id] = { id, ns, anchor: anchor.pid!, proxy };
    }
    for (const [rs, server] of (
      await startHttpServers(["127.0.0.2", "127.0.0.3", "127.0.0.4"], 8080)
    ).entries())
      backends.set(RS[rs]!, server);
    const config = join(out, "pair.yaml");
    writeFileSync(
      config,
      `cluster: e2e
defaults: { check: { type: http, path: /, interval: 500ms, timeout: 300ms, fall: 2, rise: 1 } }
quorum: { by: site, voteTtl: 3s, startupGrace: 1s }
sites: [dc1, dc2, dc3]
probes: [{ id: p1, site: dc1 }, { id: p2, site: dc2 }, { id: p3, site: dc3 }]
directors: [{ id: lvs-a, pair: edge }, { id: lvs-b, pair: edge }]
director: { reconcileInterval: 30s, leaseTtl: ${LEASE_TTL_MS}ms }
services:
  web:
    vip: 192.0.2.10:80
    scheduler: wrr
    forwarding: nat
    realServers:
${RS.map((rs) => `      - { address: ${rs}, weight: ${WEIGHTS[rs]} }`).join("\n")}
`,
    );
    const fleet = await loadConfig(config);
    const quiet = createLogger({ level: "warn" });
    const watcher = await connectNatsBus({ servers: nats.url, name: "scenario", logger: quiet });
    buses.push(watcher);
    watcher.subscribe(
      subjects.allDirectorStatus("e2e"),
      DirectorHeartbeat,
      (hb) => void heartbeats.set(hb.director, hb),
    );
    watcher.subscribe(subjects.allEvents("e2e"), EventEnvelope, (envelope) => {
      const e = envelope.event as { type: string; leader?: string; epoch?: number };
      if (e.type === "leader-changed")
        leaderChanges.push({ at: Date.now(), leader: e.leader ?? "", epoch: e.epoch ?? 0 });
    });
    for (const probe of fleet.probes) {
      const bus = await connectNatsBus({ servers: nats.url, name: probe.id, logger: quiet });
      buses.push(bus);
      const checks = createCheckRunner();
      probes.push(
        new ProbeAgent({
          config: fleet,
          probeId: probe.id,
          bus,
          runCheck: checks.run,
          logger: quiet,
        }),
      );
    }
    const startDirector = (d: Director) => {
      const child = spawn(
        "ip",
        ["netns", "exec", d.ns, "node", process.argv[1]!, "--director", d.id, config, d.proxy.url()],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let rest = "";
      const collect = (chunk: Buffer) => {
        const parts = (rest + chunk.toString()).split("\n");
        rest = parts.pop() ?? "";
        log.push(...parts.map((line) => `${d.id} ${line}`));
      };
      child.stdout!.on("data", collect);
      child.stderr!.on("data", collect);
      d.child = child;
    };
    const a = directors["lvs-a"]!;
    const b = directors["lvs-b"]!;
    startDirector(a);
    startDirector(b);
    const roleOf = (id: string) => heartbeats.get(id)?.role;
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
    for (const d of Object.values(directors)) d.child?.kill("SIGKILL");
    for (const p of probes) await p.stop().catch(() => {});
    for (const bus of buses) await bus.close().catch(() => {});
    await closeHttpServers([...backends.values()]).catch(() => {});
    await nats.dispose().catch(() => {});
    save();
    process.exit(0);
  }
}

// Last, so every module-level constant above is initialised before the scenario runs.
if (process.argv[2] === "--director") await runDirector(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else await main();
