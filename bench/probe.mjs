#!/usr/bin/env node
// The probe agent's own cost at 10,000 real servers (100 services × 100), with an instant check function so
// only the agent is measured (scheduling, rise/fall, batching, JSON encoding of every batch): RSS, CPU per
// check and batches encoded per second. Real HTTP checks/s are in bench/checks.mjs. Bounded to ~12 s.
import { parseConfig } from "@lvsq/config";
import { ProbeAgent } from "@lvsq/probe";
import { createLogger } from "@lvsq/runtime";

const SERVICES = 100;
const PER_SERVICE = 100;
const RUN_MS = 10_000;
const config = parseConfig(
  JSON.stringify({
    cluster: "bench",
    quorum: { voteTtl: "6s" },
    defaults: { check: { type: "tcp", interval: "1s", timeout: "500ms", rise: 2, fall: 3 } },
    services: Object.fromEntries(
      Array.from({ length: SERVICES }, (_, s) => [
        `svc${s}`,
        {
          vip: `192.0.2.${s + 1}:80`,
          forwarding: "nat", // local servers on one address, many ports
          realServers: Array.from({ length: PER_SERVICE }, (_, r) => ({
            address: `198.51.100.${(r % 250) + 1}:${1000 + s * 100 + r}`,
          })),
        },
      ]),
    ),
  }),
  "bench-probe.yaml",
  { env: {} },
);

let batches = 0;
let bytes = 0;
const bus = {
  publish(_subject, payload) {
    bytes += JSON.stringify(payload).length;
    batches++;
  },
  isConnected: () => true,
  onStatus: () => () => {},
};
let flip = 0;
const agent = new ProbeAgent({
  config,
  probeId: "local",
  bus,
  logger: createLogger({ level: "silent" }),
  runCheck: async () => ({ verdict: ++flip % 97 === 0 ? "down" : "up", latencyMs: 0.1, reason: "bench" }),
});
const cpuStart = process.cpuUsage();
const started = performance.now();
await new Promise((resolve) => setTimeout(resolve, RUN_MS));
const elapsedS = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStart);
const checks = agent.stats.checksTotal;
await agent.stop();
const rssMb = process.memoryUsage().rss / 1024 / 1024;
console.log(`  probe real servers: ${SERVICES * PER_SERVICE} real servers`);
console.log(
  `  probe checks scheduled: ${(checks / elapsedS).toFixed(0)} checks/s (interval 1 s, instant check function)`,
);
console.log(
  `  probe agent CPU per check: ${((cpu.user + cpu.system) / 1000 / Math.max(1, checks)).toFixed(4)} ms`,
);
console.log(
  `  probe vote batches encoded: ${(batches / elapsedS).toFixed(0)} batches/s (${(bytes / Math.max(1, batches) / 1024).toFixed(1)} KiB each)`,
);
console.log(`  probe RSS at ${SERVICES * PER_SERVICE} real servers: ${rssMb.toFixed(0)} MB`);
