// HTTP check throughput of @lvsq/checks on one core: the checker runs here (one JS thread), the real servers
// (node:http, one per port) run in a child process so their CPU is not counted. Bounded to ~10 s.
// Run after `npx tsc -b packages/checks`: `node bench/checks.mjs`.
import { fork } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";

const SERVER_COUNT = 20;
const IN_FLIGHT = 128;
const WARMUP_MS = 1_000;
const MEASURE_MS = 8_000;

if (process.argv[2] === "--servers") {
  await serve();
} else {
  await measure();
}

async function serve() {
  const ports = [];
  for (let i = 0; i < SERVER_COUNT; i++) {
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok\n");
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", 1024, resolve));
    ports.push(server.address().port);
  }
  process.send({ ports });
  process.on("disconnect", () => process.exit(0));
}

async function measure() {
  const { createCheckRunner } = await import("@lvsq/checks");
  const runner = createCheckRunner();
  const child = fork(fileURLToPath(import.meta.url), ["--servers"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  try {
    const { ports } = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("server child did not start within 10 s")), 10_000);
      child.once("message", (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      child.once("exit", (code) => reject(new Error(`server child exited with ${code}`)));
    });
    const targets = ports.map((port) => ({ address: `127.0.0.1:${port}`, service: "bench" }));
    const check = {
      type: "http",
      intervalMs: 2000,
      timeoutMs: 1000,
      rise: 2,
      fall: 3,
      path: "/healthz",
      method: "GET",
      headers: {},
      expectStatus: [[200, 399]],
      expectBody: "ok",
      tlsVerify: true,
    };
    let next = 0;
    const runFor = async (durationMs, latencies) => {
      const deadline = performance.now() + durationMs;
      const counts = { up: 0, down: 0, abstain: 0 };
      const reasons = new Map();
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (performance.now() < deadline) {
            const result = await runner.run(check, targets[next++ % targets.length]);
            counts[result.verdict]++;
            if (result.verdict !== "up") reasons.set(result.reason, (reasons.get(result.reason) ?? 0) + 1);
            latencies?.push(result.latencyMs);
          }
        }),
      );
      return { counts, reasons };
    };

    await runFor(WARMUP_MS);
    const latencies = [];
    const cpuBefore = process.cpuUsage();
    const startedAt = performance.now();
    const { counts, reasons } = await runFor(MEASURE_MS, latencies);
    const elapsedMs = performance.now() - startedAt;
    const cpu = process.cpuUsage(cpuBefore);
    const total = counts.up + counts.down + counts.abstain;
    const cpuMsPerCheck = (cpu.user + cpu.system) / 1000 / total;
    latencies.sort((a, b) => a - b);
    const quantile = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;

    console.log("checks (HTTP GET + body regex, fresh connection per check, loopback)");
    console.log(`  http checks/s: ${Math.round((total / elapsedMs) * 1000)} checks/s`);
    console.log(
      `  http checks/s per core (CPU-bound estimate): ${Math.round(1000 / cpuMsPerCheck)} checks/s`,
    );
    console.log(`  cpu per http check: ${cpuMsPerCheck.toFixed(3)} ms`);
    console.log(
      `  checker cpu utilisation: ${(((cpu.user + cpu.system) / 1000 / elapsedMs) * 100).toFixed(0)} %`,
    );
    console.log(`  http check latency p50: ${quantile(0.5).toFixed(2)} ms`);
    console.log(`  http check latency p99: ${quantile(0.99).toFixed(2)} ms`);
    console.log(`  checks not up: ${total - counts.up} checks`);
    for (const [reason, count] of reasons) console.log(`    ${reason}: ${count} checks`);
    console.log(`  rss: ${(process.memoryUsage().rss / 1024 / 1024).toFixed(1)} MB`);
    console.log(`  in flight: ${IN_FLIGHT} checks`);
  } finally {
    child.kill();
  }
}
