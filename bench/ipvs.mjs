#!/usr/bin/env node
// Kernel-facing ipvs figures, measured INSIDE the test guest (User-Mode Linux: one vCPU, every syscall
// trapped by ptrace; or QEMU, under TCG every instruction emulated): far slower than a real director, so
// read the numbers as upper bounds. The guest and kernel are printed next to the figures.
// Host mode boots the guest (test/harness/guest.ts) running this same file with --guest; the guest imports
// the built @lvsq/ipvs (run `npx tsc -b packages/ipvs` first; `npm run bench` builds). `npm run bench`
// runs scripts/setup.mjs first, which installs ipvsadm and the guest's packages.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SERVERS = 10_000;
const ONE_BY_ONE = 100;

if (process.argv.includes("--guest")) await guest();
else await host();

async function host() {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const { importTs } = await import("../scripts/import-ts.mjs");
  const { runInGuest, resultJson } = await importTs(root, "test/harness/guest.ts", "lvsq-bench");
  const started = Date.now();
  const run = await runInGuest({
    nodeModule: fileURLToPath(import.meta.url),
    args: ["--guest"],
    cwd: root,
    timeoutMs: 240_000,
  });
  const r = resultJson(run, "result.json");
  const ms = (v) => `${v.toFixed(1)} ms`;
  const where = `inside ${run.guest.label}`;
  console.log(`ipvs (${where}; a real director is much faster)`);
  console.log(`  apply ${SERVERS} real-server adds, one ipvsadm -R batch (${where}): ${ms(r.batchAddMs)}`);
  console.log(
    `  apply ${SERVERS} real-server weight edits, one ipvsadm -R batch (${where}): ${ms(r.batchEditMs)}`,
  );
  console.log(
    `  apply ${SERVERS} real-server changes one-by-one, extrapolated from ${ONE_BY_ONE} (${where}): ${((r.oneByOneMs * (SERVERS / ONE_BY_ONE)) / 1000).toFixed(1)} s`,
  );
  console.log(`  one-by-one measured, ${ONE_BY_ONE} single-op applies (${where}): ${ms(r.oneByOneMs)}`);
  console.log(`  read() at ${SERVERS} entries, median of 3 (${where}): ${ms(r.readMs)}`);
  console.log(`  plan() for ${SERVERS} changed real servers (${where}): ${ms(r.planMs)}`);
  console.log(`  per-apply overhead, single change, median of 20 (${where}): ${ms(r.singleApplyMs)}`);
  console.log(
    `  ipvsadm -R cost per line at ${SERVERS} (${where}): ${((r.batchEditMs * 1000) / SERVERS).toFixed(0)} µs`,
  );
  console.log(
    `  guest boot + run (wall, ${run.guest.label}): ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

async function guest() {
  const { createIpvsadmDriver, plan } = await import("@lvsq/ipvs");
  const driver = createIpvsadmDriver({ timeoutMs: 45_000 });
  const key = "tcp 192.0.2.100:80";
  const owned = new Set([key, "tcp 192.0.2.101:80"]);
  const table = (weight) => ({
    services: [
      {
        key,
        protocol: "tcp",
        address: "192.0.2.100:80",
        family: "inet",
        scheduler: "wrr",
        realServers: Array.from({ length: SERVERS }, (_, i) => ({
          address: `10.${(i >> 8) & 255}.${i & 255}.1:80`,
          forwarding: "dr",
          weight,
        })),
      },
    ],
  });
  const time = async (fn) => {
    const t = performance.now();
    await fn();
    return performance.now() - t;
  };
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const r = {};
  const empty = await driver.read();
  r.batchAddMs = await time(() => driver.apply(plan(table(1), empty, owned)));
  const full = await driver.read();
  let ops;
  r.planMs = await time(async () => {
    ops = plan(table(2), full, owned);
  });
  if (ops.length !== SERVERS) throw new Error(`expected ${SERVERS} edits, planned ${ops.length}`);
  r.batchEditMs = await time(() => driver.apply(ops));
  const reads = [];
  for (let i = 0; i < 3; i++) {
    let read;
    reads.push(
      await time(async () => {
        read = await driver.read();
      }),
    );
    if (read.services[0].realServers.length !== SERVERS) throw new Error("read lost entries");
  }
  r.readMs = median(reads);
  const edits = plan(table(3), await driver.read(), owned).slice(0, ONE_BY_ONE);
  r.oneByOneMs = await time(async () => {
    for (const op of edits) await driver.apply([op]);
  });
  const small = {
    services: [
      {
        key: "tcp 192.0.2.101:80",
        protocol: "tcp",
        address: "192.0.2.101:80",
        family: "inet",
        scheduler: "wrr",
        realServers: [{ address: "10.255.0.1:80", forwarding: "dr", weight: 1 }],
      },
    ],
  };
  await driver.apply(
    plan(
      { services: [...(await driver.read()).services, ...small.services] },
      await driver.read(),
      new Set(["tcp 192.0.2.101:80"]),
    ),
  );
  const singles = [];
  for (let i = 0; i < 20; i++) {
    const op = {
      type: "edit-server",
      service: small.services[0],
      server: { address: "10.255.0.1:80", forwarding: "dr", weight: 10 + i },
    };
    singles.push(await time(() => driver.apply([op])));
  }
  r.singleApplyMs = median(singles);
  const { env } = process;
  writeFileSync(join(env.LVSQ_GUEST_OUT, "result.json"), JSON.stringify(r));
}
