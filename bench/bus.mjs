#!/usr/bin/env node
// Vote batches/s through @lvsq/bus on a real local nats-server (loopback): one publishing bus, one validating
// subscriber (zod VoteBatch), batches of 100 votes, ~10 s in all. Needs `npx tsc -b packages/bus` first.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNatsBus } from "@lvsq/bus";
import { subjects, VoteBatch } from "@lvsq/protocol";
import { pino } from "pino";

const RUN_MS = 8_000;
const VOTES_PER_BATCH = 100;
const MAX_IN_FLIGHT = 2_000; // batches published but not yet received: keeps the subscriber from falling behind

function startServer() {
  const which = spawnSync("sh", ["-c", "command -v nats-server || ls /usr/sbin/nats-server"], {
    encoding: "utf8",
  });
  const binary = which.stdout.trim().split("\n")[0];
  if (which.status !== 0 || !binary) throw new Error("nats-server not found: apt-get install -y nats-server");
  const dir = mkdtempSync(join(tmpdir(), "lvsq-bench-nats-"));
  mkdirSync(join(dir, "ports"));
  writeFileSync(join(dir, "nats.conf"), 'listen: "127.0.0.1:-1"\n');
  const child = spawn(binary, ["-c", join(dir, "nats.conf"), "--ports_file_dir", join(dir, "ports")], {
    stdio: "ignore",
  });
  const stop = () => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  return { child, dir, stop };
}

async function waitForPort(dir, pid) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const file = readdirSync(join(dir, "ports")).find((name) => name.endsWith(`_${pid}.ports`));
    if (file) {
      try {
        return JSON.parse(readFileSync(join(dir, "ports", file), "utf8")).nats[0];
      } catch {
        // partially written
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("nats-server did not start within 10 s");
}

function makeBatch(seq) {
  const votes = [];
  for (let i = 0; i < VOTES_PER_BATCH; i++) {
    votes.push({
      rs: `10.0.${i >> 8}.${i & 255}:80`,
      state: "up",
      since: 1_700_000_000_000,
      latencyMs: 1.2,
      reason: "HTTP 200",
    });
  }
  return {
    v: 1,
    cluster: "bench",
    probe: "p1",
    site: "dc1",
    service: "web",
    seq,
    sentAt: Date.now(),
    intervalMs: 2000,
    votes,
  };
}

const server = startServer();
const logger = pino({ level: "silent" });
let publisher;
let subscriber;
try {
  const url = await waitForPort(server.dir, server.child.pid);
  publisher = await connectNatsBus({ servers: [url], name: "bench-pub", logger });
  subscriber = await connectNatsBus({ servers: [url], name: "bench-sub", logger });
  let received = 0;
  const latencies = [];
  subscriber.subscribe(subjects.allVotes("bench"), VoteBatch, (batch) => {
    received++;
    if (received % 100 === 0) latencies.push(Date.now() - batch.sentAt);
  });
  const subject = subjects.votes("bench", "p1", "web");
  // Warm-up round trip: the subscription is live once one batch comes back.
  const warmDeadline = Date.now() + 5_000;
  while (received === 0 && Date.now() < warmDeadline) {
    publisher.publish(subject, makeBatch(0));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const template = makeBatch(1);
  const bytes = Buffer.byteLength(JSON.stringify(template));
  received = 0;
  latencies.length = 0;
  let sent = 0;
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  while (performance.now() - started < RUN_MS) {
    if (sent - received < MAX_IN_FLIGHT) {
      for (let i = 0; i < 100; i++) {
        template.seq = ++sent;
        template.sentAt = Date.now();
        publisher.publish(subject, template);
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const drainDeadline = Date.now() + 2_000;
  while (received < sent && Date.now() < drainDeadline)
    await new Promise((resolve) => setTimeout(resolve, 5));
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  latencies.sort((a, b) => a - b);
  const pick = (q) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  const stats = subscriber.stats();
  const dropped = Object.values(stats.dropped).reduce((a, b) => a + b, 0);
  console.log(
    `  bus vote batches/s (${VOTES_PER_BATCH} votes each, zod-validated): ${Math.round(received / elapsedS)} batches/s`,
  );
  console.log(`  bus votes/s: ${Math.round((received * VOTES_PER_BATCH) / elapsedS)} votes/s`);
  console.log(`  bus batch size: ${bytes} bytes`);
  console.log(`  bus batch latency p50 (at saturation): ${pick(0.5)} ms`);
  console.log(`  bus batch latency p99 (at saturation): ${pick(0.99)} ms`);
  console.log(
    `  bus CPU per batch (publish + validate, one process): ${((cpu.user + cpu.system) / 1000 / received).toFixed(3)} ms`,
  );
  console.log(`  bus batches lost: ${sent - received} batches`);
  console.log(`  bus batches dropped by validation: ${dropped} batches`);
} finally {
  await publisher?.close();
  await subscriber?.close();
  server.stop();
}
