#!/usr/bin/env node
// `npm run demo`: the multi-site story on a real kernel IPVS table inside User-Mode Linux, narrated.
// Bundles test/demo/run.ts (the host side; the guest scenario is bundled by the UML harness) into
// node_modules/.cache so its bare imports resolve, and runs it. Needs (as root):
//   apt-get install -y user-mode-linux kmod ipvsadm nats-server iproute2
// and a build (`npm run demo` builds first: the agents run from packages/*/dist).
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "node_modules/.cache/lvsq-demo");
mkdirSync(outDir, { recursive: true });
const outfile = join(outDir, "run.mjs");
await build({
  entryPoints: [join(root, "test/demo/run.ts")],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  conditions: ["source", "node", "import", "default"],
  logLevel: "error",
});
const { runDemo } = await import(pathToFileURL(outfile).href);
try {
  process.exitCode = await runDemo(root);
} catch (error) {
  console.error(`lvsq demo: ${error instanceof Error ? error.message : error}`);
  process.exitCode = 1;
}
