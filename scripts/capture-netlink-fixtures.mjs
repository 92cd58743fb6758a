#!/usr/bin/env node
// Refreshes packages/ipvs/src/fixtures/netlink-capture.json: boots the test guest, runs
// test/capture/netlink-fixtures.guest.ts (every datagram between the netlink driver and the kernel while it
// applies and reads a table covering every IPVS feature lvsq models) and writes what it recorded. Run it
// by hand after changing the codec or when moving to a new kernel; the unit tests read the checked-in file.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { importTs } = await import("./import-ts.mjs");
const { runInGuest, resultJson } = await importTs(root, "test/harness/guest.ts", "lvsq-capture");
const run = await runInGuest({
  nodeModule: join(root, "test/capture/netlink-fixtures.guest.ts"),
  cwd: root,
  timeoutMs: 120_000,
});
const capture = resultJson(run, "netlink-capture.json");
capture.guest = run.guest.label;
const out = join(root, "packages/ipvs/src/fixtures/netlink-capture.json");
writeFileSync(out, `${JSON.stringify(capture, null, 1)}\n`);
console.log(`wrote ${out} (${run.guest.label})`);
