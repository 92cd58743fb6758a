#!/usr/bin/env node
// `npm run bench`: runs every bench/*.mjs in its own process, one after another (they measure CPU, so never
// in parallel), and prints their figures with units. Each bench bounds its own time.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const only = process.argv.slice(2);
const files = readdirSync(join(root, "bench"))
  .filter((f) => f.endsWith(".mjs"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failed = 0;
console.log(`lvsq bench — node ${process.version}, ${new Date().toISOString()}`);
for (const file of files) {
  console.log(`\n## ${file.replace(/\.mjs$/, "")}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ["--expose-gc", join(root, "bench", file)], {
    cwd: root,
    stdio: "inherit",
    // bench/director runs the director-in-the-guest scenario once per kernel driver: allow for both.
    timeout: 720_000,
  });
  if (result.status !== 0) {
    failed++;
    console.log(`  (failed: exit ${result.status ?? result.signal})`);
  }
  console.log(`  bench wall time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
process.exitCode = failed === 0 ? 0 : 1;
