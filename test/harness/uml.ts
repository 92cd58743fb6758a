import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join, relative, resolve } from "node:path";
import { bundleForGuest } from "./uml-bundle.js";

/**
 * Boots User-Mode Linux (a real Linux 6.1 kernel as a host process) with the host's files as its root,
 * loads IPVS (ip_vs + every ip_vs_* module shipped), veth, bridge and dummy, runs one scenario (a shell
 * script or a node module) inside, and always powers off. See DESIGN.md §6. Costs: ~3 s per boot and
 * 50-250 ms per process start inside, so batch many kernel checks into one boot per test file.
 */

export const UML_INSTALL_HINT = "apt-get install -y user-mode-linux kmod ipvsadm iproute2 curl";
const MODULES_ROOT = "/usr/lib/uml/modules";
export const EXIT_MARKER = "LVSQ-UML-EXIT";

export type UmlRunOptions = {
  /** A /bin/sh script body, run with `set -e` off; its exit status is the scenario's. */
  script?: string;
  /** Or a node module (.js/.mjs, or .ts which is bundled first with @lvsq/* resolved to src/). */
  nodeModule?: string;
  args?: readonly string[];
  /** Extra environment for the scenario. LVSQ_UML_OUT (result folder) and LVSQ_UML_SCHEDULERS are set. */
  env?: Readonly<Record<string, string>>;
  /** Whole-run deadline: the guest is powered off (and then killed) when it passes. Default 120 s. */
  timeoutMs?: number;
  /** Folder for init script, bundle, uml state and results (created under the OS temp dir if absent). */
  workDir?: string;
  /** Extra kernel modules to load (names, e.g. "ipip"). */
  modules?: readonly string[];
  memMb?: number;
  /** Called with every chunk of guest console output as it arrives. Default: none (LVSQ_UML_STREAM=1 → stderr). */
  onOutput?: (chunk: string) => void;
  /** Working directory inside the guest (host paths are the same). Default: process.cwd(). */
  cwd?: string;
  /** Keep a work dir the harness created (it is removed after the run otherwise; LVSQ_UML_KEEP=1 keeps it). */
  keepWorkDir?: boolean;
};

export type UmlRunResult = {
  /** Guest console output (kernel messages at warning level and up, and the scenario's stdout/stderr). */
  stdout: string;
  /** The scenario's exit status, from the marker line; undefined if the marker never came. */
  exitCode: number | undefined;
  exitMarker: boolean;
  /** Files the scenario wrote under LVSQ_UML_OUT, by path relative to it (read before clean-up). */
  files: Record<string, string>;
  /** Removed after the run unless the caller passed it or asked to keep it. */
  workDir: string;
  durationMs: number;
  /** Kernel modules that failed to load (their names). */
  moduleFailures: string[];
};

/** Where `linux.uml` is, or an Error saying what to install. */
export function findLinuxUml(searchPath = process.env.PATH ?? ""): string {
  for (const dir of searchPath.split(delimiter)) {
    const candidate = join(dir, "linux.uml");
    if (dir !== "" && existsSync(candidate)) return candidate;
  }
  throw new Error(`linux.uml not found on PATH: install User-Mode Linux with \`${UML_INSTALL_HINT}\``);
}

/** The UML kernel's module tree (e.g. /usr/lib/uml/modules/6.1.176). */
export function umlModulesDir(): string {
  const versions = existsSync(MODULES_ROOT) ? readdirSync(MODULES_ROOT).sort() : [];
  const version = versions.at(-1);
  if (version === undefined) throw new Error(`no UML kernel modules in ${MODULES_ROOT}: ${UML_INSTALL_HINT}`);
  return join(MODULES_ROOT, version);
}

/** IPVS scheduler names the UML kernel has modules for (ip_vs_<name>.ko, minus ftp and the sip pe). */
export function umlIpvsSchedulers(): string[] {
  return ipvsModules()
    .map((m) => m.replace(/^ip_vs_?/, ""))
    .filter((name) => name !== "" && name !== "ftp" && name !== "pe_sip");
}

function ipvsModules(): string[] {
  const dir = join(umlModulesDir(), "kernel/net/netfilter/ipvs");
  const names = readdirSync(dir)
    .filter((f) => /^ip_vs.*\.ko(\.xz|\.zst|\.gz)?$/.test(f))
    .map((f) => f.replace(/\.ko.*$/, ""));
  return ["ip_vs", ...names.filter((n) => n !== "ip_vs").sort()];
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

export async function runInUml(options: UmlRunOptions): Promise<UmlRunResult> {
  if ((options.script === undefined) === (options.nodeModule === undefined)) {
    throw new Error("runInUml: pass exactly one of script or nodeModule");
  }
  findLinuxUml();
  const hostEnv = process.env;
  const workDir = resolve(options.workDir ?? (await mkdtemp(join(tmpdir(), "lvsq-uml-"))));
  const removeAfter = options.workDir === undefined && !options.keepWorkDir && hostEnv.LVSQ_UML_KEEP !== "1";
  try {
    return await runIn(workDir, options);
  } finally {
    if (removeAfter) await rm(workDir, { recursive: true, force: true });
  }
}

async function runIn(workDir: string, options: UmlRunOptions): Promise<UmlRunResult> {
  const linuxUml = findLinuxUml();
  const modulesDir = umlModulesDir();
  const timeoutMs = options.timeoutMs ?? 120_000;
  const outDir = join(workDir, "out");
  await mkdir(outDir, { recursive: true });
  await mkdir(join(workDir, "mroot/lib/modules"), { recursive: true });
  const moduleLink = join(workDir, "mroot/lib/modules", modulesDir.split("/").at(-1) as string);
  if (!existsSync(moduleLink)) await symlink(modulesDir, moduleLink);
  await mkdir(join(workDir, "uml"), { recursive: true });

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
  const modules = [...ipvsModules(), "veth", "bridge", "dummy", ...(options.modules ?? [])];
  const env: Record<string, string> = {
    HOME: "/root",
    LVSQ_UML: "1",
    LVSQ_UML_OUT: outDir,
    LVSQ_UML_WORK: workDir,
    LVSQ_UML_SCHEDULERS: umlIpvsSchedulers().join(" "),
    ...options.env,
  };
  // The scenario gets the deadline minus boot/poweroff slack, so it is stopped before the guest is.
  const innerS = Math.max(5, Math.floor(timeoutMs / 1000) - 10);
  const init = [
    "#!/bin/sh",
    "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t tmpfs tmpfs /run",
    `for m in ${modules.join(" ")}; do modprobe -d ${shellQuote(join(workDir, "mroot"))} $m || echo "LVSQ-UML-MODULE-FAILED $m"; done`,
    "ip link set lo up",
    ...Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    `cd ${shellQuote(options.cwd ?? process.cwd())}`,
    `timeout -k 2 ${innerS} ${command} ${args} 2>&1`,
    "rc=$?",
    `echo "${EXIT_MARKER} $rc"`,
    "poweroff -f",
  ].join("\n");
  const initPath = join(workDir, "init.sh");
  await writeFile(initPath, `${init}\n`);
  await chmod(initPath, 0o755);

  const started = performance.now();
  const stdout = await boot(linuxUml, workDir, initPath, options, timeoutMs);
  const marker = new RegExp(`^${EXIT_MARKER} (\\d+)`, "m").exec(stdout);
  const moduleFailures = [...stdout.matchAll(/^LVSQ-UML-MODULE-FAILED (\S+)/gm)].map((m) => m[1] as string);
  return {
    stdout,
    exitCode: marker ? Number(marker[1]) : undefined,
    exitMarker: marker !== null,
    files: await collectFiles(outDir),
    workDir,
    durationMs: performance.now() - started,
    moduleFailures,
  };
}

function boot(
  linuxUml: string,
  workDir: string,
  initPath: string,
  options: UmlRunOptions,
  timeoutMs: number,
): Promise<string> {
  const kernelArgs = [
    `mem=${options.memMb ?? 768}M`,
    "rootfstype=hostfs",
    "rootflags=/",
    "rw",
    `init=${initPath}`,
    "con=null",
    "con0=null,fd:1",
    `uml_dir=${join(workDir, "uml")}`,
    "quiet",
  ];
  const hostEnv = process.env;
  const stream =
    options.onOutput ??
    (hostEnv.LVSQ_UML_STREAM === "1" ? (c: string) => process.stderr.write(c) : undefined);
  return new Promise((done, fail) => {
    // `timeout` bounds the guest even if this process dies; the timer below is the backstop.
    const child = spawn(
      "timeout",
      ["-k", "5", String(Math.ceil(timeoutMs / 1000)), linuxUml, ...kernelArgs],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    const onData = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      output += text;
      stream?.(text);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const backstop = setTimeout(
      () => child.pid !== undefined && process.kill(child.pid, "SIGKILL"),
      timeoutMs + 10_000,
    );
    child.on("error", (error) => {
      clearTimeout(backstop);
      fail(error);
    });
    child.on("close", (code) => {
      clearTimeout(backstop);
      if (code === 124 || code === 137) {
        fail(
          new Error(
            `UML guest passed its ${timeoutMs} ms deadline and was stopped; output:\n${tail(output)}`,
          ),
        );
      } else done(output);
    });
  });
}

function tail(text: string, lines = 40): string {
  return text.split("\n").slice(-lines).join("\n");
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
export function resultJson<T>(run: UmlRunResult, name: string): T {
  const text = run.files[name];
  if (text === undefined) {
    throw new Error(
      `UML scenario wrote no ${name} (exit ${run.exitCode ?? "marker missing"}); guest output:\n${tail(run.stdout)}`,
    );
  }
  return JSON.parse(text) as T;
}
