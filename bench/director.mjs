#!/usr/bin/env node
// Director figures (the targets are in docs/architecture.md, "Performance targets"):
//  1. on the HOST: votes/s a director ingests over a real nats-server on one core (the director process is
//     pinned with taskset when there are 2+ cores), batches of 100 steady-state votes from 5 probes published
//     by a separate process, 10,000 real servers; then the director's RSS holding all 10,000 × 5 votes.
//  2. INSIDE the test guest, UML or QEMU (test/bench/director-failure.guest.ts): failure → out of the kernel table and recovery →
//     back, p50/p99 over 25 failures, interval 1 s, timeout 500 ms, fall 2, rise 2, 3 probe sites, once with
//     each kernel driver (netlink, then ipvsadm) in the same boot.
// Needs a build and the guest (`npm run bench` runs scripts/setup.mjs and builds first).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const self = fileURLToPath(import.meta.url);
const root = join(dirname(self), "..");
const SERVICES = 10;
const PER_SERVICE = 1000; // 10 × 1,000 = 10,000 real servers
const PROBES = 5;
const BATCH = 100;
const PUBLISH_MS = 6000;
const MAX_IN_FLIGHT_VOTES = 200_000; // published but not yet counted by the director

const mode = process.argv[2];
if (mode === "--director-child") await directorChild(process.argv[3], process.argv[4]);
else if (mode === "--publisher-child") await publisherChild(process.argv[3], process.argv[4]);
else await host();

function fleetYaml(natsUrl) {
  const lines = [
    "cluster: bench",
    `nats: { servers: ["${natsUrl}"] }`,
    "defaults: { check: { type: tcp, interval: 1s, timeout: 500ms, fall: 2, rise: 2 } }",
    "quorum: { by: site, voteTtl: 60s, startupGrace: 0s }",
    `sites: [${Array.from({ length: PROBES }, (_, p) => `s${p}`).join(", ")}]`,
    "probes:",
    ...Array.from({ length: PROBES }, (_, p) => `  - { id: p${p}, site: s${p} }`),
    "directors: [{ id: d1 }]",
    "director: { reconcileInterval: 1h }",
    "services:",
  ];
  for (let s = 0; s < SERVICES; s++) {
    lines.push(`  svc${s}:`, `    vip: 192.0.2.${s + 1}:80`, "    realServers:");
    for (let r = 0; r < PER_SERVICE; r++) lines.push(`      - { address: ${realServer(r)} }`);
  }
  return `${lines.join("\n")}\n`;
}

function realServer(r) {
  return `10.${Math.floor(r / 250)}.${r % 250}.1:80`;
}

async function directorChild(configFile, natsUrl) {
  const { parseConfig } = await import("@lvsq/config");
  const { connectNatsBus } = await import("@lvsq/bus");
  const { DirectorAgent } = await import("@lvsq/director");
  const { createMemoryDriver } = await import("@lvsq/ipvs");
  const { createLogger } = await import("@lvsq/runtime");
  const logger = createLogger({ level: "silent" });
  const config = parseConfig(readFileSync(configFile), configFile);
  const bus = await connectNatsBus({ servers: [natsUrl], name: "bench-director", logger });
  const agent = await DirectorAgent.start({
    config,
    directorId: "d1",
    bus,
    driver: createMemoryDriver(),
    logger,
    heartbeatMs: 60_000,
  });
  setInterval(() => bus.publish("bench.progress", { accepted: agent.stats().votesAccepted }), 50);
  process.stdin.on("data", async () => {
    // Let the votes still in the socket land: until the count holds still for 200 ms (at most 5 s).
    for (let last = -1, until = Date.now() + 5000; Date.now() < until; ) {
      const now = agent.stats().votesAccepted;
      if (now === last) break;
      last = now;
      await new Promise((r) => setTimeout(r, 200));
    }
    await agent.idle();
    globalThis.gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    const s = agent.stats();
    console.log(JSON.stringify({ accepted: s.votesAccepted, dropped: s.votesDropped, rss, heapUsed }));
    process.exit(0);
  });
  console.log("ready");
}

/** `flood`: as fast as the director takes them for PUBLISH_MS; `steady`: 3 full rounds, one a second. */
async function publisherChild(natsUrl, pace) {
  const { connect } = await import("@nats-io/transport-node");
  const nc = await connect({ servers: natsUrl, name: "bench-probes" });
  let accepted = 0;
  nc.subscribe("bench.progress", {
    callback: (_e, m) => {
      accepted = JSON.parse(m.string()).accepted;
    },
  });
  const seq = Array.from({ length: PROBES }, () => Date.now() * 1000);
  const now = Date.now();
  // Pre-encoded vote lists per (service, chunk); the envelope is rebuilt per batch for its seq.
  const chunks = [];
  for (let s = 0; s < SERVICES; s++)
    for (let c = 0; c < PER_SERVICE / BATCH; c++) {
      const votes = [];
      for (let r = c * BATCH; r < (c + 1) * BATCH; r++)
        votes.push({ rs: realServer(r), state: "up", since: now, latencyMs: 1, reason: "tcp connect" });
      chunks.push({ service: `svc${s}`, votes: JSON.stringify(votes) });
    }
  let sent = 0;
  const started = Date.now();
  let rounds = 0;
  while (pace === "steady" ? rounds < 3 : Date.now() - started < PUBLISH_MS) {
    if (pace === "steady" && Date.now() < started + rounds * 1000) {
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    rounds++;
    if (sent - accepted > MAX_IN_FLIGHT_VOTES) {
      await new Promise((r) => setTimeout(r, 2));
      continue;
    }
    for (let p = 0; p < PROBES; p++) {
      for (const chunk of chunks) {
        const head = `{"v":1,"cluster":"bench","probe":"p${p}","site":"s${p}","service":"${chunk.service}","seq":${++seq[p]},"sentAt":${Date.now()},"intervalMs":1000,"votes":`;
        nc.publish(`lvsq.bench.votes.p${p}.${chunk.service}`, `${head}${chunk.votes}}`);
        sent += BATCH;
      }
      await nc.flush();
    }
  }
  await nc.flush();
  console.log(JSON.stringify({ sent, ms: Date.now() - started }));
  await nc.close();
}

async function host() {
  const figures = [];
  const print = (name, value, unit) => {
    const line = `  ${name}: ${value} ${unit}`;
    figures.push(line);
    console.log(line);
  };
  await ingest(print);
  await failureInGuest(print);
}

function startNats() {
  const which = spawnSync("sh", ["-c", "command -v nats-server || ls /usr/sbin/nats-server"], {
    encoding: "utf8",
  });
  const binary = which.stdout.trim().split("\n")[0];
  if (which.status !== 0 || !binary) throw new Error("nats-server not found: apt-get install -y nats-server");
  const dir = mkdtempSync(join(tmpdir(), "lvsq-bench-director-"));
  mkdirSync(join(dir, "ports"));
  writeFileSync(join(dir, "nats.conf"), 'listen: "127.0.0.1:-1"\nmax_payload: 4MB\n');
  const child = spawn(binary, ["-c", join(dir, "nats.conf"), "--ports_file_dir", join(dir, "ports")], {
    stdio: "ignore",
  });
  return { child, dir };
}

async function waitFor(what, test, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = test();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`bench/director: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function child(argv, pinCore) {
  const node = [process.execPath, "--expose-gc", self, ...argv];
  const command = pinCore !== undefined ? ["taskset", "-c", String(pinCore), ...node] : node;
  const proc = spawn(command[0], command.slice(1), { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
  const lines = [];
  let rest = "";
  proc.stdout.on("data", (chunk) => {
    const parts = (rest + chunk.toString()).split("\n");
    rest = parts.pop() ?? "";
    lines.push(...parts);
  });
  const exited = new Promise((done) => proc.once("exit", done));
  return { proc, lines, exited };
}

async function ingest(print) {
  const nats = startNats();
  const children = [];
  try {
    const url = await waitFor(
      "nats-server's port",
      () => {
        const file = readdirSync(join(nats.dir, "ports")).find((f) => f.endsWith(".ports"));
        if (!file) return undefined;
        try {
          return JSON.parse(readFileSync(join(nats.dir, "ports", file), "utf8")).nats?.[0];
        } catch {
          return undefined;
        }
      },
      10_000,
    );
    const configFile = join(nats.dir, "fleet.yaml");
    writeFileSync(configFile, fleetYaml(url));
    const cores = availableParallelism();
    const pin = cores >= 2 && spawnSync("sh", ["-c", "command -v taskset"]).status === 0;
    const runDirector = async (pace) => {
      const director = child(["--director-child", configFile, url], pin ? cores - 1 : undefined);
      children.push(director.proc);
      await waitFor("the director to start", () => director.lines.includes("ready"), 20_000);
      const publisher = child(["--publisher-child", url, pace], undefined);
      children.push(publisher.proc);
      await publisher.exited;
      const sent = JSON.parse(publisher.lines.find((l) => l.startsWith("{")) ?? "{}");
      director.proc.stdin.write("report\n");
      await director.exited;
      return { sent, report: JSON.parse(director.lines.find((l) => l.startsWith("{")) ?? "{}") };
    };
    const flood = await runDirector("flood");
    const mb = (bytes) => (bytes / 2 ** 20).toFixed(1);
    print(
      "director ingest over NATS (batches of 100, 10,000 real servers × 5 probes)",
      Math.round((flood.report.accepted / flood.sent.ms) * 1000),
      "votes/s",
    );
    print("votes accepted of published in the flood", `${flood.report.accepted}/${flood.sent.sent}`, "votes");
    print("director process pinned with taskset to", pin ? 1 : "no (1 core or no taskset)", "core");
    print("director RSS after the flood (after gc)", mb(flood.report.rss), "MB");
    const steady = await runDirector("steady");
    if (steady.report.accepted !== 3 * SERVICES * PER_SERVICE * PROBES)
      throw new Error(`bench/director: steady run accepted ${steady.report.accepted} votes`);
    print(
      "director RSS at 10,000 real servers × 5 probes (3 full rounds, after gc)",
      mb(steady.report.rss),
      "MB",
    );
    print("director heap used at 10,000 real servers × 5 probes", mb(steady.report.heapUsed), "MB");
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    nats.child.kill("SIGKILL");
    rmSync(nats.dir, { recursive: true, force: true });
  }
}

async function failureInGuest(print) {
  const { importTs } = await import("../scripts/import-ts.mjs");
  const { runInGuest, resultJson } = await importTs(root, "test/harness/guest.ts", "lvsq-bench");
  const run = await runInGuest({
    nodeModule: join(root, "test/bench/director-failure.guest.ts"),
    env: { LVSQ_REPO: root },
    cwd: root,
    timeoutMs: 560_000,
  });
  const r = resultJson(run, "failure.json");
  if (r.error) throw new Error(`bench/director (${run.guest.label}): ${r.error}`);
  const pct = (values, p) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  };
  const knobs = "interval 1 s, timeout 500 ms, fall 2, 3 sites";
  console.log(
    `  director with each kernel driver, one after the other in one boot of ${run.guest.label} (${knobs}):`,
  );
  for (const [driver, d] of Object.entries(r.drivers)) {
    const tag = `[${driver}]`;
    print(`${tag} failure → out of the kernel table p50`, pct(d.removalMs, 50), "ms");
    print(`${tag} failure → out of the kernel table p99`, pct(d.removalMs, 99), "ms");
    print(`${tag} failure → out of the kernel table max`, Math.max(...d.removalMs), "ms");
    print(`${tag} failures measured`, d.removalMs.length, "failures");
    print(`${tag} recovery → back in the kernel table p50 (rise 2)`, pct(d.recoveryMs, 50), "ms");
    print(`${tag} recovery → back in the kernel table p99`, pct(d.recoveryMs, 99), "ms");
    print(`${tag} director apply p50`, pct(d.applyMs, 50), "ms");
    print(`${tag} director apply p99`, pct(d.applyMs, 99), "ms");
    print(`${tag} the director's own word on its driver`, JSON.stringify(d.driver?.detail ?? "none"), "");
  }
  print(`guest run wall time (${run.guest.label})`, (run.durationMs / 1000).toFixed(1), "s");
}
