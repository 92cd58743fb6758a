#!/usr/bin/env node
// Kernel-facing ipvs figures, measured INSIDE User-Mode Linux (Linux 6.1, one vCPU, every syscall
// trapped by ptrace: far slower than a real director; read the numbers as upper bounds).
// Host mode boots UML (test/harness/uml.ts) running this same file with --guest; the guest imports the
// built @lvsq/ipvs (run `npx tsc -b packages/ipvs` first; `npm run bench` builds).
// Needs: apt-get install -y user-mode-linux kmod ipvsadm
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
  const { runInUml, resultJson } = await importTs(root, "test/harness/uml.ts", "lvsq-bench");
  const started = Date.now();
  const run = await runInUml({
    nodeModule: fileURLToPath(import.meta.url),
    args: ["--guest"],
    cwd: root,
    timeoutMs: 90_000,
  });
  const r = resultJson(run, "result.json");
  const ms = (v) => `${v.toFixed(1)} ms`;
  console.log(
    "ipvs (inside UML: Linux 6.1 User-Mode Linux, 1 vCPU, ptrace syscalls; a real kernel is much faster)",
  );
  console.log(`  apply ${SERVERS} real-server adds, one ipvsadm -R batch (inside UML): ${ms(r.batchAddMs)}`);
  console.log(
    `  apply ${SERVERS} real-server weight edits, one ipvsadm -R batch (inside UML): ${ms(r.batchEditMs)}`,
  );
  console.log(
    `  apply ${SERVERS} real-server changes one-by-one, extrapolated from ${ONE_BY_ONE} (inside UML): ${((r.oneByOneMs * (SERVERS / ONE_BY_ONE)) / 1000).toFixed(1)} s`,
  );
  console.log(`  one-by-one measured, ${ONE_BY_ONE} single-op applies (inside UML): ${ms(r.oneByOneMs)}`);
  console.log(`  read() at ${SERVERS} entries, median of 3 (inside UML): ${ms(r.readMs)}`);
  console.log(`  plan() for ${SERVERS} changed real servers (inside UML): ${ms(r.planMs)}`);
  console.log(`  per-apply overhead, single change, median of 20 (inside UML): ${ms(r.singleApplyMs)}`);
  console.log(
    `  ipvsadm -R cost per line at ${SERVERS} (inside UML): ${((r.batchEditMs * 1000) / SERVERS).toFixed(0)} µs`,
  );
  console.log(`  UML boot + guest run (wall): ${((Date.now() - started) / 1000).toFixed(1)} s`);
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
  writeFileSync(join(env.LVSQ_UML_OUT, "result.json"), JSON.stringify(r));
}
