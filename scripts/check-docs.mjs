#!/usr/bin/env node
// The docs check (npm run docs:check; part of npm test): links and named paths resolve inside the repository,
// every --flag docs/ gives lvsq is in that command's --help, and nothing points outside the repository.
// The rules are test/unit/docs-check.ts (unit-tested in docs-check.test.ts).
import { fileURLToPath } from "node:url";
import { importTs } from "./import-ts.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const { checkRepository } = await importTs(root, "test/unit/docs-check.ts", "lvsq-docs-check");
const problems = checkRepository(root.replace(/\/$/, ""));
for (const p of problems) console.error(`${p.file}:${p.line}: ${p.message}`);
if (problems.length > 0) {
  console.error(`docs check: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log("docs check: links, named paths, lvsq flags and references all resolve inside the repository");
