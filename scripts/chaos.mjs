#!/usr/bin/env node
// `npm run chaos [-- [--short] --seed N]`: the chaos run (test/e2e/chaos.test.ts with LVSQ_CHAOS=long, or
// short) in the guest, then its report. The long run's seed is random unless given (or LVSQ_CHAOS_SEED is
// set), the short run's 11; the report names
// it, so any run can be replayed. Bounded: the guest has its own deadline, and this script one above it.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { env } = process;
const args = process.argv.slice(2);
const at = args.indexOf("--seed");
const unknown = args.filter((arg, i) => arg !== "--short" && arg !== "--seed" && !(at >= 0 && i === at + 1));
if (unknown.length > 0 || args.includes("--help") || args.includes("-h")) {
  console.error(
    `usage: npm run chaos [-- [--short] --seed N]${unknown.length ? `   (unknown: ${unknown.join(" ")})` : ""}`,
  );
  process.exit(2);
}
const mode = args.includes("--short") ? "short" : "long";
const seed =
  at >= 0
    ? args[at + 1]
    : (env.LVSQ_CHAOS_SEED ?? (mode === "short" ? "11" : String(Math.floor(Math.random() * 2 ** 31))));
if (!/^\d+$/.test(seed ?? "")) {
  console.error("usage: npm run chaos [-- [--short] --seed N]   (N: a whole number, as printed in a report)");
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), "lvsq-chaos-"));
const report = join(dir, "report.txt");
console.log(
  `lvsq chaos run (${mode}), seed ${seed}: about ${mode === "short" ? 3 : 8} minutes (2-4 times that under QEMU emulation)`,
);
const result = spawnSync(
  join(root, "node_modules/.bin/vitest"),
  ["run", "--project", "e2e", "test/e2e/chaos.test.ts"],
  {
    cwd: root,
    stdio: "inherit",
    env: { ...env, LVSQ_CHAOS: mode, LVSQ_CHAOS_SEED: seed, LVSQ_CHAOS_REPORT: report },
    // Above the test's own guest deadline (the scenario's, stretched by a time scale of up to 5).
    timeout: (mode === "short" ? 270_000 : 630_000) * 5 + 180_000,
  },
);
console.log(
  existsSync(report) ? `\n${readFileSync(report, "utf8")}` : "\n(no report: the run did not finish)",
);
rmSync(dir, { recursive: true, force: true });
process.exitCode = result.status === 0 ? 0 : 1;
