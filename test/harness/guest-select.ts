import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootGuest, type GuestBackend, type GuestBackendName } from "./guest-boot.js";
import { QEMU_PACKAGES, qemuBackend, qemuMissing } from "./guest-qemu.js";
import { findLinuxUml, UML_PACKAGES, umlBackend } from "./guest-uml.js";

/**
 * Which guest this host runs: User-Mode Linux where a probe boot shows it works, else QEMU with KVM where a
 * probe boot shows that works, else QEMU with TCG. `LVSQ_GUEST=uml|qemu` forces the backend and
 * `LVSQ_GUEST_ACCEL=kvm|tcg` QEMU's accelerator. The answer is cached per boot of the host (keyed by
 * /proc/sys/kernel/random/boot_id and what is installed), so only the first test after a reboot or an
 * install pays for the probe boots (1-20 s each; a KVM guest that hangs at boot costs its full 20 s).
 */

export type Install = (packages: readonly string[]) => void;
export type SelectOptions = {
  /** Installs Debian packages (scripts/setup.mjs passes apt-get); without it, a missing one is an error. */
  install?: Install;
  /** Where the probe's story goes (default: stderr). */
  log?: (line: string) => void;
};

const PROBE_MARKER = "LVSQ-GUEST-PROBE-OK";
const PROBE_TIMEOUT_MS: Record<string, number> = { uml: 20_000, kvm: 12_000, tcg: 90_000 };
const CACHE_VERSION = 1;

type Cached = {
  version: number;
  fingerprint: string;
  name: GuestBackendName;
  accel?: "kvm" | "tcg";
  notes: string[];
};

export function forcedBackend(env: NodeJS.ProcessEnv = process.env): GuestBackendName | undefined {
  const value = env.LVSQ_GUEST;
  if (value === undefined || value === "") return undefined;
  if (value !== "uml" && value !== "qemu") throw new Error(`LVSQ_GUEST=${value}: expected uml or qemu`);
  return value;
}

export function forcedAccel(env: NodeJS.ProcessEnv = process.env): "kvm" | "tcg" | undefined {
  const value = env.LVSQ_GUEST_ACCEL;
  if (value === undefined || value === "") return undefined;
  if (value !== "kvm" && value !== "tcg") throw new Error(`LVSQ_GUEST_ACCEL=${value}: expected kvm or tcg`);
  return value;
}

/** True when the CPU has AMX, where Debian's UML 6.1 panics at its first process. */
export function cpuHasAmx(): boolean {
  return existsSync("/proc/cpuinfo") && /\bamx_tile\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
}

function kvmUsable(): boolean {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const mtime = (path: string | undefined) =>
  path !== undefined && existsSync(path) ? statSync(path).mtimeMs : 0;

/** What the answer depends on: a reinstall, a new kernel or an override means probing again. */
function fingerprint(): string {
  const { env } = process;
  return JSON.stringify([
    CACHE_VERSION,
    env.LVSQ_GUEST ?? "",
    env.LVSQ_GUEST_ACCEL ?? "",
    mtime(findLinuxUml()),
    mtime("/usr/bin/qemu-system-x86_64"),
    mtime("/boot"),
    kvmUsable(),
  ]);
}

/** `probe`: this host's guest; `qemu`: its QEMU guest where that is not the default (selectQemuGuest). */
type CacheKind = "probe" | "qemu";

function cachePath(kind: CacheKind): string {
  const bootId = existsSync("/proc/sys/kernel/random/boot_id")
    ? readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
    : "unknown-boot";
  return join(tmpdir(), "lvsq-guest", `${kind}-${bootId}.json`);
}

function readCache(kind: CacheKind = "probe"): Cached | undefined {
  try {
    const cached = JSON.parse(readFileSync(cachePath(kind), "utf8")) as Cached;
    return cached.version === CACHE_VERSION && cached.fingerprint === fingerprint() ? cached : undefined;
  } catch {
    return undefined;
  }
}

function writeCache(entry: Omit<Cached, "version" | "fingerprint">, kind: CacheKind = "probe"): void {
  const path = cachePath(kind);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(
    `${path}.${process.pid}`,
    JSON.stringify({ version: CACHE_VERSION, fingerprint: fingerprint(), ...entry }),
  );
  renameSync(`${path}.${process.pid}`, path);
}

/** Boots `backend` into a two-line init; true when it answered. The reason when it did not. */
export async function probeBoot(backend: GuestBackend): Promise<true | string> {
  const workDir = await mkdtemp(join(tmpdir(), "lvsq-guest-probe-"));
  try {
    const timeoutMs = PROBE_TIMEOUT_MS[backend.accel ?? backend.name] ?? 30_000;
    const boot = await bootGuest(backend, {
      workDir,
      init: `#!/bin/sh\nexport PATH=/usr/sbin:/usr/bin:/sbin:/bin\necho "${PROBE_MARKER} $(uname -r)"\npoweroff -f\n`,
      timeoutMs,
      memMb: 512,
    });
    if (boot.output.includes(PROBE_MARKER)) return true;
    if (boot.timedOut)
      return `no answer within ${timeoutMs / 1000} s (${lastLine(boot.output) || "no output"})`;
    return lastLine(boot.output) || "exited without output";
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

function lastLine(output: string): string {
  const lines = output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("["));
  const panic = output.split("\n").find((l) => /panic|ptrace|Attempted to kill init/i.test(l));
  return (panic ?? lines.at(-1) ?? "").trim().slice(0, 200);
}

function ensurePackages(what: string, missing: readonly string[], options: SelectOptions): void {
  if (missing.length === 0) return;
  if (options.install === undefined) {
    throw new Error(
      `${what} needs Debian packages that are missing: apt-get install -y ${missing.join(" ")}`,
    );
  }
  options.install(missing);
}

const toStderr = (line: string) => void process.stderr.write(`[guest] ${line}\n`);

let chosen: Promise<GuestBackend> | undefined;

/** The guest backend for this host (probed once per host boot, then cached; once per process in memory). */
export function selectGuest(options: SelectOptions = {}): Promise<GuestBackend> {
  if (options.install !== undefined) return select(options);
  chosen ??= select(options);
  return chosen;
}

async function select(options: SelectOptions): Promise<GuestBackend> {
  const log = options.log ?? toStderr;
  const forced = forcedBackend();
  if (forced === "uml") {
    ensurePackages("User-Mode Linux (LVSQ_GUEST=uml)", missingUml(), options);
    return asBackend(umlBackend());
  }
  const cached = readCache();
  if (cached !== undefined) {
    return cached.name === "uml"
      ? asBackend(umlBackend())
      : asBackend(await qemuBackend(cached.accel ?? "tcg"));
  }

  const notes: string[] = [];
  if (forced === undefined) {
    let uml = umlBackend();
    if (typeof uml === "string" && cpuHasAmx()) {
      notes.push("UML not tried: this CPU has AMX, where Debian's UML 6.1 panics at its first process");
    } else {
      if (typeof uml === "string") {
        ensurePackages("User-Mode Linux", missingUml(), options);
        uml = umlBackend();
      }
      const answer = typeof uml === "string" ? uml : await probeBoot(uml);
      if (answer === true && typeof uml !== "string") {
        log(`probe: ${uml.label} boots here`);
        writeCache({ name: "uml", notes });
        return uml;
      }
      notes.push(`UML probe boot failed: ${answer}`);
    }
  }

  ensurePackages(`the QEMU guest (${notes.join("; ") || "LVSQ_GUEST=qemu"})`, qemuMissing(), options);
  return probeQemu(notes, log, "probe");
}

/** QEMU with KVM where a probe boot shows that works, else with TCG; the answer cached as `kind`. */
async function probeQemu(
  notes: string[],
  log: (line: string) => void,
  kind: CacheKind,
): Promise<GuestBackend> {
  const accel = forcedAccel();
  const candidates: ("kvm" | "tcg")[] =
    accel !== undefined ? [accel] : kvmUsable() ? ["kvm", "tcg"] : ["tcg"];
  if (accel === undefined && !kvmUsable()) notes.push("KVM not tried: /dev/kvm is not usable");
  for (const candidate of candidates) {
    const backend = asBackend(await qemuBackend(candidate));
    const answer = await probeBoot(backend);
    if (answer === true) {
      log(`probe: ${[...notes, `using ${backend.label}`].join("; ")}`);
      writeCache({ name: "qemu", accel: candidate, notes }, kind);
      return backend;
    }
    notes.push(`QEMU ${candidate.toUpperCase()} probe boot failed: ${answer}`);
  }
  throw new Error(`no QEMU guest boots on this host:\n- ${notes.join("\n- ")}`);
}

let chosenQemu: Promise<GuestBackend> | undefined;

/**
 * A QEMU guest even where User-Mode Linux is this host's guest: for a scenario that needs what Debian's UML
 * kernel is built without (nf_tables for IPv4, which the forwarding pins are written in). The host's own
 * guest where that is QEMU already; otherwise probed once per host boot and cached apart.
 */
export function selectQemuGuest(options: SelectOptions = {}): Promise<GuestBackend> {
  if (options.install !== undefined) return pickQemu(options);
  chosenQemu ??= pickQemu(options);
  return chosenQemu;
}

async function pickQemu(options: SelectOptions): Promise<GuestBackend> {
  const host = await selectGuest(options);
  if (host.name === "qemu") return host;
  const cached = readCache("qemu");
  if (cached !== undefined) return asBackend(await qemuBackend(cached.accel ?? "tcg"));
  const log = options.log ?? toStderr;
  const why = "QEMU beside UML: Debian's UML kernel has no nf_tables for IPv4 (the forwarding pins)";
  ensurePackages(why, qemuMissing(), options);
  return probeQemu([why], log, "qemu");
}

function missingUml(): string[] {
  return findLinuxUml() === undefined ? [...UML_PACKAGES] : [];
}

function asBackend(backend: GuestBackend | string): GuestBackend {
  if (typeof backend === "string") throw new Error(backend);
  return backend;
}

/** Every Debian package either backend may need (for messages; setup installs only the chosen one's). */
export const GUEST_PACKAGES = { uml: UML_PACKAGES, qemu: QEMU_PACKAGES } as const;
