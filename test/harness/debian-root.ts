import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./agents.js";

/**
 * A fresh Debian root for package tests: `debootstrap --variant=minbase --include=systemd,adduser bookworm`
 * (Debian's smallest base, plus an init and the package's one non-library dependency; no Node, no nats-server,
 * no ipvsadm), made once by scripts/setup.mjs and cached here. It is never written to: a container boots it
 * with `--volatile=overlay`, so dpkg's writes land in a tmpfs that vanishes with the container.
 */
export const DEBIAN_SUITE = "bookworm";
export const debianRootDir = join(repoRoot, "node_modules/.cache/lvsq-debian-root", DEBIAN_SUITE);

export function requireDebianRoot(): string {
  if (!existsSync(join(debianRootDir, ".lvsq-complete"))) {
    throw new Error(
      `no fresh Debian root at ${debianRootDir}: run node scripts/setup.mjs (it debootstraps one, about a minute)`,
    );
  }
  const nspawn = spawnSync("sh", ["-c", "command -v systemd-nspawn"], { encoding: "utf8" });
  if (nspawn.status !== 0) {
    throw new Error("systemd-nspawn not found (needed by this test): apt-get install -y systemd-container");
  }
  return debianRootDir;
}

export type ContainerRun = {
  /** nspawn's exit: the container's systemd exits with the test unit's result (0 = its script succeeded). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** nspawn's own output (the container's console), the last 20 kB. */
  console: string;
};

export type ContainerOptions = {
  root: string;
  /** A host folder, bound read-write at /e2e: the script and its inputs go in, results come out. */
  shared: string;
  /** Script path inside the container (under /e2e); run as root by a oneshot unit once the system is up. */
  script: string;
  /** Hard deadline of the whole boot (SIGTERM = a clean container shutdown, then SIGKILL after 10 s). */
  timeoutMs: number;
};

/**
 * Boots `root` as a container with its own systemd (PID 1 inside), the host's network (so a nats-server or a
 * backend the test started on 127.0.0.1 is reachable) and a throw-away overlay over the root. The script
 * runs as `lvsq-e2e.service`; when it ends, systemd exits with its result and the container is gone.
 */
export function bootContainer(options: ContainerOptions): {
  child: ChildProcess;
  done: Promise<ContainerRun>;
} {
  const unit = join(options.shared, "lvsq-e2e.service");
  writeFileSync(
    unit,
    `[Unit]
Description=lvsq package test
After=basic.target
SuccessAction=exit-force
FailureAction=exit-force
[Service]
Type=oneshot
ExecStart=${options.script}
StandardOutput=journal+console
`,
  );
  const child = spawn(
    "systemd-nspawn",
    [
      "--quiet",
      "--register=no", // no machined here (no systemd as PID 1 on the host)
      "--keep-unit",
      "--volatile=overlay",
      // nspawn drops CAP_NET_ADMIN from a container that shares the host's network; the director unit is
      // given it as on an LVS node (it runs --dry-run here, so nothing is changed with it).
      "--capability=CAP_NET_ADMIN",
      `--directory=${options.root}`,
      `--bind=${options.shared}:/e2e`,
      `--bind-ro=${unit}:/etc/systemd/system/lvsq-e2e.service`,
      "--boot",
      "systemd.unit=lvsq-e2e.service",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let console = "";
  const keep = (chunk: Buffer) => {
    console = (console + chunk.toString("utf8")).slice(-20_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  running.add(child);
  const stop = setTimeout(() => {
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
  }, options.timeoutMs);
  const done = new Promise<ContainerRun>((resolve) => {
    child.once("exit", (code, signal) => {
      clearTimeout(stop);
      running.delete(child);
      resolve({ code, signal, console });
    });
  });
  return { child, done };
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) if (child.pid !== undefined) child.kill("SIGKILL");
});
