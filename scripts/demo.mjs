#!/usr/bin/env node
// `npm run demo`: the multi-site story on a real kernel IPVS table inside User-Mode Linux, narrated.
// Runs test/demo/run.ts (the host side; the guest scenario is bundled by the UML harness). Needs (as root):
//   apt-get install -y user-mode-linux kmod ipvsadm nats-server iproute2
// and a build (`npm run demo` builds first: the agents run from packages/*/dist).
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { importTs } from "./import-ts.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { runDemo } = await importTs(root, "test/demo/run.ts", "lvsq-demo");
try {
  process.exitCode = await runDemo(root);
} catch (error) {
  console.error(`lvsq demo: ${error instanceof Error ? error.message : error}`);
  process.exitCode = 1;
}
