// Lets a plain .mjs script (npm run demo, npm run bench) use the TypeScript test harness: bundles `entry`
// with esbuild into node_modules/.cache/<cacheName>/ (bare imports stay external, @lvsq/* resolve to src)
// and imports it.
import { mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

export async function importTs(root, entry, cacheName) {
  const outDir = join(root, "node_modules/.cache", cacheName);
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, `${basename(entry).replace(/\.ts$/, "")}.mjs`);
  await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    conditions: ["source", "node", "import", "default"],
    logLevel: "error",
  });
  return import(pathToFileURL(outfile).href);
}
