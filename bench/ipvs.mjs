#!/usr/bin/env node
// Kernel-facing ipvs figures for BOTH drivers side by side, measured in ONE boot of the test guest (User-Mode
// Linux: one vCPU, every syscall trapped by ptrace; or QEMU, under TCG every instruction emulated): far
// slower than a real director, so read the numbers as upper bounds and compare the drivers with each other.
// The guest and kernel are printed next to the figures. Host mode boots the guest (test/harness/guest.ts)
// running this same file with --guest; the guest imports the built @lvsq/ipvs (`npm run bench` builds).
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SERVERS = 10_000;
const SINGLES = 100;
const DRIVERS = ["netlink", "ipvsadm"];
// The kernel looks a real server up by walking its service's list, and wrr rescans every weight, on each
// add or edit: 10,000 in ONE service is O(n²) kernel work, which under emulation (TCG) dominates both
// drivers. The same 10,000 over 100 services shows what the driver itself costs.
const SPREAD = 100;

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
    timeoutMs: 280_000,
  });
  const results = resultJson(run, "result.json");
  if (results.error) throw new Error(`bench/ipvs (${run.guest.label}): ${results.error}`);
  const where = run.guest.label;
  const ms = (v) => `${v.toFixed(1)} ms`;
  const cell = (f) => DRIVERS.map((d) => f(results[d]).padStart(16)).join("");
  console.log(`ipvs drivers, side by side in one boot of ${where} (a real director is much faster)`);
  console.log(`  ${"".padEnd(62)}${DRIVERS.map((d) => d.padStart(16)).join("")}`);
  const line = (name, f) => console.log(`  ${name.padEnd(62)}${cell(f)}`);
  line(`apply ${SERVERS} new real servers in one batch`, (r) => ms(r.batchAddMs));
  line(`apply ${SERVERS} real-server weight edits in one batch`, (r) => ms(r.batchEditMs));
  line(`ops/s in the ${SERVERS}-op add batch`, (r) => `${Math.round(SERVERS / (r.batchAddMs / 1000))} ops/s`);
  line(`apply ${SERVERS} new real servers over ${SPREAD} services in one batch`, (r) => ms(r.spreadAddMs));
  line(
    `ops/s in that batch (${SERVERS + SPREAD} ops)`,
    (r) => `${Math.round((SERVERS + SPREAD) / (r.spreadAddMs / 1000))} ops/s`,
  );
  line(`single real-server change, p50 (${SINGLES} applies)`, (r) => ms(r.singleP50Ms));
  line(`single real-server change, p99 (${SINGLES} applies)`, (r) => ms(r.singleP99Ms));
  line(`read() at ${SERVERS} real servers, median of 3`, (r) => ms(r.readMs));
  line("open (netlink: socket + family + GET_INFO)", (r) => ms(r.openMs));
  console.log(`  kernel: ${run.guest.kernel}; IPVS ${results.netlink.version} (GET_INFO over netlink)`);
  console.log(`  guest boot + run (wall, ${where}): ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function guest() {
  const { openKernelDriver, plan } = await import("@lvsq/ipvs");
  const { execFileSync } = await import("node:child_process");
  const out = {};
  try {
    for (const name of DRIVERS) {
      execFileSync("ipvsadm", ["-C"]); // each driver starts from an empty table
      out[name] = await measure(name, openKernelDriver, plan);
    }
  } catch (error) {
    out.error = String(error?.stack ?? error);
  }
  const { env } = process;
  writeFileSync(join(env.LVSQ_GUEST_OUT, "result.json"), JSON.stringify(out));
}

async function measure(name, openKernelDriver, plan) {
  const time = async (fn) => {
    const t = performance.now();
    await fn();
    return performance.now() - t;
  };
  const pct = (xs, p) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
  const r = {};
  let kernel;
  r.openMs = await time(async () => {
    kernel = await openKernelDriver({ driver: name, ipvsadm: "ipvsadm", timeoutMs: 60_000 });
  });
  if (kernel.name !== name) throw new Error(`asked for ${name}, got ${kernel.name}`);
  const { driver } = kernel;
  if (name === "netlink") r.version = driver.info.version;
  const key = "tcp 192.0.2.100:80";
  const owned = new Set([key]);
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
  const adds = plan(table(1), await driver.read(), owned);
  r.batchAddMs = await time(() => driver.apply(adds));
  const edits = plan(table(2), await driver.read(), owned);
  if (edits.length !== SERVERS)
    throw new Error(`${name}: expected ${SERVERS} edits, planned ${edits.length}`);
  r.batchEditMs = await time(() => driver.apply(edits));
  const reads = [];
  for (let i = 0; i < 3; i++) {
    let read;
    reads.push(
      await time(async () => {
        read = await driver.read();
      }),
    );
    if (read.services[0].realServers.length !== SERVERS) throw new Error(`${name}: read lost entries`);
  }
  reads.sort((a, b) => a - b);
  r.readMs = reads[1];
  const service = table(2).services[0];
  const singles = [];
  for (let i = 0; i < SINGLES; i++) {
    const op = {
      type: "edit-server",
      service,
      server: { address: service.realServers[i].address, forwarding: "dr", weight: 10 + i },
    };
    singles.push(await time(() => driver.apply([op])));
  }
  r.singleP50Ms = pct(singles, 50);
  const spread = {
    services: Array.from({ length: SPREAD }, (_, s) => ({
      key: `tcp 192.0.2.${s + 1}:8080`,
      protocol: "tcp",
      address: `192.0.2.${s + 1}:8080`,
      family: "inet",
      scheduler: "wrr",
      realServers: Array.from({ length: SERVERS / SPREAD }, (_, i) => ({
        address: `10.200.${s}.${i + 1}:8080`, // dr: the VIP's port, as the kernel holds it
        forwarding: "dr",
        weight: 1,
      })),
    })),
  };
  const spreadOps = plan(spread, await driver.read(), new Set(spread.services.map((s) => s.key)));
  if (spreadOps.length !== SERVERS + SPREAD) throw new Error(`${name}: planned ${spreadOps.length} ops`);
  r.spreadAddMs = await time(() => driver.apply(spreadOps));
  r.singleP99Ms = pct(singles, 99);
  kernel.close();
  return r;
}
