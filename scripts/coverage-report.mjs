#!/usr/bin/env node
// Prints the branch coverage of the engine's quorum and vote-store modules (they decide what leaves a table);
// vitest's thresholds in vitest.config.ts already fail the run below 100 %.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const summary = JSON.parse(readFileSync(join(process.cwd(), "coverage/coverage-summary.json"), "utf8"));
for (const [file, figures] of Object.entries(summary)) {
  if (!/engine\/src\/(quorum|vote-store)\.ts$/.test(file)) continue;
  const name = file.replace(/^.*packages\//, "packages/");
  console.log(
    `coverage ${name}: branches ${figures.branches.pct} %, statements ${figures.statements.pct} %, functions ${figures.functions.pct} %, lines ${figures.lines.pct} %`,
  );
}
console.log(
  `coverage total (all packages): branches ${summary.total.branches.pct} %, lines ${summary.total.lines.pct} %`,
);
