import { readdirSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { bootGuest, type GuestBackend, shellQuote, tail } from "./guest-boot.js";
import { bundleForGuest } from "./guest-bundle.js";
import { selectGuest, selectQemuGuest } from "./guest-select.js";

/**
 * Boots a real Linux kernel with the host's files as its root, loads IPVS (ip_vs and every ip_vs_*
 * scheduler the kernel ships), veth, bridge and dummy, runs one scenario (a shell script or a node module)
 * inside, and always powers off. The guest is User-Mode Linux or QEMU, whichever boots on this host
 * (guest-select.ts; `LVSQ_GUEST=uml|qemu` forces one); a scenario never knows which. Every process start
 * inside is expensive (UML 50-250 ms, QEMU/TCG about 1 s for node), so batch many kernel checks into one
 * boot per test file and read /proc/net/ip_vs rather than exec'ing ipvsadm when polling. docs/testing.md
 * has the costs.
 */

export const EXIT_MARKER = "LVSQ-GUEST-EXIT";
const BEGIN_MARKER = "LVSQ-GUEST-BEGIN";

export type GuestRunOptions = {
  /** A /bin/sh script body, run with `set -e` off; its exit status is the scenario's. */
  script?: string;
  /** Or a node module (.js/.mjs, or .ts which is bundled first with @lvsq/* resolved to src/). */
  nodeModule?: string;
  args?: readonly string[];
  /** Extra environment. LVSQ_IN_GUEST=1, LVSQ_GUEST_OUT (result folder), LVSQ_GUEST_WORK,
   * LVSQ_GUEST_SCHEDULERS, LVSQ_GUEST_BACKEND, LVSQ_GUEST_KERNEL and, under QEMU, LVSQ_GUEST_ACCEL are set. */
  env?: Readonly<Record<string, string>>;
  /** Whole-run deadline: the guest is stopped (then killed) when it passes. Default 120 s. */
  timeoutMs?: number;
  /** Folder for init script, bundle, guest state and results (created under the OS temp dir if absent). */
  workDir?: string;
  /** Extra kernel modules to load (names, e.g. "ipip"). */
  modules?: readonly string[];
  /**
   * The scenario needs nf_tables for IPv4 (the forwarding pins): Debian's UML kernel is built without it,
   * so where UML is this host's guest the scenario boots QEMU instead (selectQemuGuest).
   */
  needsNftables?: boolean;
  /** Guest memory, default 1536 MB. */
  memMb?: number;
  /** Called with every chunk of guest console output as it arrives. Default: none (LVSQ_GUEST_STREAM=1 → stderr). */
  onOutput?: (chunk: string) => void;
  /** Working directory inside the guest (host paths are the same). Default: process.cwd(). */
  cwd?: string;
  /** Keep a work dir the harness created (removed after the run otherwise; LVSQ_GUEST_KEEP=1 keeps it). */
  keepWorkDir?: boolean;
  /** Print the one line saying which guest and kernel ran, and how long it took (default true). */
  announce?: boolean;
};

export type GuestInfo = {
  backend: GuestBackend["name"];
  accel?: "kvm" | "tcg";
  kernel: string;
  label: string;
};

export type GuestRunResult = {
  /** Guest console output (kernel messages at warning level and up, and the scenario's stdout/stderr). */
  stdout: string;
  /** The scenario's exit status, from the marker line; undefined if the marker never came. */
  exitCode: number | undefined;
  exitMarker: boolean;
  /** Files the scenario wrote under LVSQ_GUEST_OUT, by path relative to it (read before clean-up). */
  files: Record<string, string>;
  /** Removed after the run unless the caller passed it or asked to keep it. */
  workDir: string;
  durationMs: number;
  /** From power-on until the scenario started (modules loaded). */
  bootMs: number | undefined;
  /** Kernel modules that failed to load (their names). */
  moduleFailures: string[];
  /** Which guest ran. */
  guest: GuestInfo;
};

/** The guest this host runs (probing it on first use after a host boot). */
export async function guestInfo(): Promise<GuestInfo> {
  const backend = await selectGuest();
  return {
    backend: backend.name,
    ...(backend.accel ? { accel: backend.accel } : {}),
    kernel: backend.kernel,
    label: backend.label,
  };
}

/** IPVS scheduler names the guest kernel has modules for (ip_vs_<name>.ko, minus ftp and the sip pe). */
export async function guestIpvsSchedulers(): Promise<string[]> {
  return ipvsModules(await selectGuest())
    .map((m) => m.replace(/^ip_vs_?/, ""))
    .filter((name) => name !== "" && name !== "ftp" && name !== "pe_sip");
}

function ipvsModules(backend: GuestBackend): string[] {
  const dir = join(backend.modulesDir, "kernel/net/netfilter/ipvs");
  const names = readdirSync(dir)
    .filter((f) => /^ip_vs.*\.ko(\.xz|\.zst|\.gz)?$/.test(f))
    .map((f) => f.replace(/\.ko.*$/, ""));
  return ["ip_vs", ...names.filter((n) => n !== "ip_vs").sort()];
}

export async function runInGuest(options: GuestRunOptions): Promise<GuestRunResult> {
  if ((options.script === undefined) === (options.nodeModule === undefined)) {
    throw new Error("runInGuest: pass exactly one of script or nodeModule");
  }
  const backend = options.needsNftables ? await selectQemuGuest() : await selectGuest();
  const workDir = resolve(options.workDir ?? (await mkdtemp(join(tmpdir(), "lvsq-guest-"))));
  const { env } = process;
  const removeAfter = options.workDir === undefined && !options.keepWorkDir && env.LVSQ_GUEST_KEEP !== "1";
  try {
    return await runIn(backend, workDir, options);
  } finally {
    if (removeAfter) await rm(workDir, { recursive: true, force: true });
  }
}

async function runIn(
  backend: GuestBackend,
  workDir: string,
  options: GuestRunOptions,
): Promise<GuestRunResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const outDir = join(workDir, "out");
  await mkdir(outDir, { recursive: true });

  let command: string;
  if (options.script !== undefined) {
    await writeFile(join(workDir, "scenario.sh"), options.script);
    command = `sh ${shellQuote(join(workDir, "scenario.sh"))}`;
  } else {
    let module = resolve(options.nodeModule as string);
    if (module.endsWith(".ts")) module = await bundleForGuest(module, join(workDir, "scenario.mjs"));
    command = `node ${shellQuote(module)}`;
  }
  const args = (options.args ?? []).map(shellQuote).join(" ");
  const modules = [...ipvsModules(backend), "veth", "bridge", "dummy", ...(options.modules ?? [])];
  const schedulers = await guestIpvsSchedulers();
  const hostEnv = process.env;
  const env: Record<string, string> = {
    HOME: "/root",
    LVSQ_IN_GUEST: "1",
    LVSQ_GUEST_OUT: outDir,
    LVSQ_GUEST_WORK: workDir,
    LVSQ_GUEST_SCHEDULERS: schedulers.join(" "),
    LVSQ_GUEST_BACKEND: backend.name,
    LVSQ_GUEST_KERNEL: backend.kernel,
    ...(backend.accel ? { LVSQ_GUEST_ACCEL: backend.accel } : {}),
    ...(hostEnv.LVSQ_GUEST_TIME_SCALE ? { LVSQ_GUEST_TIME_SCALE: hostEnv.LVSQ_GUEST_TIME_SCALE } : {}),
    ...options.env,
  };
  // The scenario is stopped at the run's deadline minus the slack the guest needs to power off, by the wall
  // clock (the guest's clock is the host's: UML's own, QEMU's RTC): what the boot took, however long (6 s
  // on one emulated host, 20 s on another), comes off the scenario's time, not off the power-off's.
  const maxS = Math.max(5, Math.floor(timeoutMs / 1000) - backend.slackS);
  const stopAtS = Math.floor((Date.now() + timeoutMs) / 1000) - backend.slackS;
  const modprobe = backend.modprobe(workDir);
  const init = [
    "#!/bin/sh",
    "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t tmpfs tmpfs /run",
    // One modprobe for all (each process start is expensive here); one by one only to name a failure.
    `${modprobe} -a ${modules.join(" ")} 2>/dev/null || for m in ${modules.join(" ")}; do ${modprobe} $m || echo "LVSQ-GUEST-MODULE-FAILED $m"; done`,
    "ip link set lo up",
    ...Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    `cd ${shellQuote(options.cwd ?? process.cwd())}`,
    `echo "${BEGIN_MARKER}"`,
    `inner=$(( ${stopAtS} - $(date +%s) )); [ "$inner" -ge 5 ] || inner=5; [ "$inner" -le ${maxS} ] || inner=${maxS}`,
    `timeout -k 2 "$inner" ${command} ${args} 2>&1`,
    "rc=$?",
    // Results reach the host through the shared root: flush them before the power goes.
    "sync",
    `echo "${EXIT_MARKER} $rc"`,
    "poweroff -f",
  ].join("\n");

  const stream =
    options.onOutput ??
    (hostEnv.LVSQ_GUEST_STREAM === "1" ? (c: string) => process.stderr.write(c) : undefined);
  const started = performance.now();
  let bootMs: number | undefined;
  const boot = await bootGuest(backend, {
    workDir,
    init,
    timeoutMs,
    memMb: options.memMb ?? 1536,
    onOutput: (chunk) => {
      if (bootMs === undefined && chunk.includes(BEGIN_MARKER)) bootMs = performance.now() - started;
      stream?.(chunk);
    },
  });
  if (boot.timedOut) {
    throw new Error(
      `${backend.label} guest passed its ${timeoutMs} ms deadline and was stopped; output:\n${tail(boot.output)}`,
    );
  }
  const stdout = boot.output;
  const marker = new RegExp(`^${EXIT_MARKER} (\\d+)`, "m").exec(stdout);
  const moduleFailures = [...stdout.matchAll(/^LVSQ-GUEST-MODULE-FAILED (\S+)/gm)].map((m) => m[1] as string);
  const guest: GuestInfo = {
    backend: backend.name,
    ...(backend.accel ? { accel: backend.accel } : {}),
    kernel: backend.kernel,
    label: backend.label,
  };
  if (options.announce !== false) {
    const boots =
      bootMs === undefined ? "never reached the scenario" : `booted in ${(bootMs / 1000).toFixed(1)} s`;
    process.stderr.write(
      `[guest] ${backend.label}: ${boots}, ran ${(boot.durationMs / 1000).toFixed(1)} s in all\n`,
    );
  }
  return {
    stdout,
    exitCode: marker ? Number(marker[1]) : undefined,
    exitMarker: marker !== null,
    files: await collectFiles(outDir),
    workDir,
    durationMs: boot.durationMs,
    bootMs,
    moduleFailures,
    guest,
  };
}

async function collectFiles(dir: string, base = dir): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) Object.assign(files, await collectFiles(path, base));
    else files[relative(base, path)] = await readFile(path, "utf8");
  }
  return files;
}

/** Parses a JSON result file the scenario wrote, with the guest output in the error if it is missing. */
export function resultJson<T>(run: GuestRunResult, name: string): T {
  const text = run.files[name];
  if (text === undefined) {
    throw new Error(
      `guest scenario (${run.guest.label}) wrote no ${name} (exit ${run.exitCode ?? "marker missing"}); guest output:\n${tail(run.stdout)}`,
    );
  }
  return JSON.parse(text) as T;
}
