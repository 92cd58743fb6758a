#!/usr/bin/env node
// How long the bundled `lvsq` takes to start, as an operator and systemd see it: `lvsq --version` (the
// entry alone: commander and the commands' help, no implementation loaded) against a bare `node -e 0`, and
// `lvsq run --dry-run` from exec to its first decided apply (the dry-run log of the ipvsadm commands that
// put a healthy real server in). Medians of spawned processes; bounded to ~40 s.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const lvsq = join(root, "packages/cli/bin/lvsq.js");
const VERSION_RUNS = 21;
const RUN_RUNS = 7;
const RUN_TIMEOUT_MS = 15_000;

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const ms = (n) => `${n.toFixed(0)} ms`;

function timeSpawn(args) {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { encoding: "utf8" });
  if (result.status !== 0)
    throw new Error(`node ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
  return performance.now() - started;
}

function timeSpawns(args, runs) {
  timeSpawn(args); // warm the page cache
  return median(Array.from({ length: runs }, () => timeSpawn(args)));
}

/** One `lvsq run --dry-run`: ms from exec to "standalone started" and to the first dry-run apply. */
function timeRun(config, dir, backend) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [lvsq, "run", "--config", config, "--dry-run"], {
      env: {
        ...process.env,
        LVSQ_CONTROL_SOCKET: join(dir, "control.sock"),
        LVSQ_STATE_DIR: dir,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`lvsq run: no apply within ${RUN_TIMEOUT_MS} ms`));
    }, RUN_TIMEOUT_MS);
    let readyMs;
    let rest = "";
    let measured;
    // Resolved once the process is gone, so the next run never overlaps it.
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (measured) resolve(measured);
      else reject(new Error(`lvsq run exited (${code ?? signal}) before its first apply`));
    });
    child.stdout.on("data", (chunk) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        let log;
        try {
          log = JSON.parse(line);
        } catch {
          continue;
        }
        if (log.msg === "standalone started") readyMs = performance.now() - started;
        if (!measured && log.op === "dry-run" && log.commands?.some((c) => c.includes(`-r ${backend}`))) {
          measured = { readyMs, applyMs: performance.now() - started };
          child.kill("SIGKILL");
        }
      }
    });
  });
}

const versionMs = timeSpawns([lvsq, "--version"], VERSION_RUNS);
const nodeMs = timeSpawns(["-e", "0"], VERSION_RUNS);
const helpMs = timeSpawns([lvsq, "run", "--help"], VERSION_RUNS);

const server = createServer((_req, res) => res.end("ok"));
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const backend = `127.0.0.1:${server.address().port}`;
const dir = mkdtempSync(join(tmpdir(), "lvsq-bench-startup-"));
const config = join(dir, "seed.yaml");
// rise 1 and a short interval: the first check decides, so the figure is mostly the process start.
writeFileSync(
  config,
  `cluster: bench
defaults: { check: { type: http, interval: 100ms, timeout: 80ms, rise: 1, fall: 2 } }
quorum: { startupGrace: 0s }
services:
  web: { vip: 192.0.2.10:80, forwarding: nat, realServers: [{ address: ${backend} }] }
`,
);
const runs = [];
try {
  await timeRun(config, dir, backend); // warm-up
  for (let i = 0; i < RUN_RUNS; i++) runs.push(await timeRun(config, dir, backend));
} finally {
  server.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(`startup: bundled lvsq (packages/cli/bin/lvsq.js), medians of ${VERSION_RUNS} spawns`);
console.log(`  lvsq --version: ${ms(versionMs)}`);
console.log(`  node -e 0 (the floor): ${ms(nodeMs)}`);
console.log(`  lvsq run --help: ${ms(helpMs)}`);
console.log(`lvsq run --dry-run, one http real server (rise 1, interval 100 ms), median of ${RUN_RUNS}`);
console.log(`  lvsq run exec → "standalone started": ${ms(median(runs.map((r) => r.readyMs)))}`);
console.log(`  lvsq run exec → first apply: ${ms(median(runs.map((r) => r.applyMs)))}`);
