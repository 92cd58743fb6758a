#!/usr/bin/env node
// `npm run demo`: the multi-site story on a real kernel IPVS table inside the guest (User-Mode Linux or
// QEMU, whichever boots here), narrated. Runs test/demo/run.ts (the host side; the guest scenario is
// bundled by the guest harness). `npm run demo` first runs scripts/setup.mjs (nats-server, ipvsadm and the
// guest's packages) and a build (the agents run from packages/*/dist).
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
