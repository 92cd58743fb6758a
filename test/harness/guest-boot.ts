import { spawn } from "node:child_process";
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";

/**
 * What both guest backends share: the kernel to boot, how its init loads modules, and the command line that
 * boots it with the host's `/` as its root. guest-uml.ts and guest-qemu.ts make one; guest.ts and
 * guest-select.ts boot it through `bootGuest`, so a scenario never knows which one ran.
 */
export type GuestBackendName = "uml" | "qemu";

export type GuestBackend = {
  name: GuestBackendName;
  /** QEMU only: hardware virtualisation (when a probe boot proved it works) or software emulation. */
  accel?: "kvm" | "tcg";
  /** The guest kernel's release (`uname -r` inside). */
  kernel: string;
  /** For people: "User-Mode Linux, Linux 6.1.176" / "QEMU (TCG), Linux 6.1.0-57-amd64". */
  label: string;
  /** The guest kernel's module tree on the host (the IPVS schedulers the guest has are listed from it). */
  modulesDir: string;
  /** Seconds the guest needs once its scenario is stopped (the kill's grace, sync, power-off). */
  slackS: number;
  /** Puts what the backend needs into the run's work folder (module links, state dirs). */
  prepare(workDir: string): Promise<void>;
  /** The `modprobe` command line (up to the module names) that init runs inside this guest. */
  modprobe(workDir: string): string;
  /** argv (program first) that boots the guest into `initPath`. */
  argv(workDir: string, initPath: string, memMb: number): string[];
};

export type BootOptions = {
  workDir: string;
  /** The whole /bin/sh init the guest runs as PID 1 (it must power off). */
  init: string;
  timeoutMs: number;
  memMb: number;
  onOutput?: ((chunk: string) => void) | undefined;
};

export type BootResult = { output: string; durationMs: number; timedOut: boolean };

/** Boots the guest, streams and keeps its console, and stops it (by its own PID) at the deadline. */
export async function bootGuest(backend: GuestBackend, options: BootOptions): Promise<BootResult> {
  await backend.prepare(options.workDir);
  const initPath = join(options.workDir, "init.sh");
  await writeFile(initPath, options.init.endsWith("\n") ? options.init : `${options.init}\n`);
  await chmod(initPath, 0o755);
  const argv = backend.argv(options.workDir, initPath, options.memMb);
  const started = performance.now();
  return new Promise((done, fail) => {
    // `timeout` bounds the guest even if this process dies; the timer below is the backstop. Its own
    // process group: UML leaves helper processes holding the console pipe when it dies, and they are ours.
    const seconds = String(Math.ceil(options.timeoutMs / 1000));
    const child = spawn("timeout", ["-k", "5", seconds, ...argv], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    const emit = (text: string) => {
      const clean = text.replace(/\r/g, "").replace(ESCAPES, "");
      output += clean;
      options.onOutput?.(clean);
    };
    // A serial console writes byte by byte: escape sequences and multi-byte characters span chunks, so
    // each stream is decoded as a stream and cleaned a whole line at a time.
    const readers = [child.stdout, child.stderr].map((stream) => {
      const decoder = new StringDecoder("utf8");
      let pending = "";
      stream.on("data", (chunk: Buffer) => {
        const text = pending + decoder.write(chunk);
        const end = text.lastIndexOf("\n") + 1;
        pending = text.slice(end);
        if (end > 0) emit(text.slice(0, end));
      });
      return { flush: () => pending !== "" && emit(pending + decoder.end()) };
    });
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    let stoppedByBackstop = false;
    const backstop = setTimeout(() => {
      stoppedByBackstop = true;
      killGroup();
    }, options.timeoutMs + 10_000);
    let finished = false;
    const finish = (code: number | null) => {
      if (finished) return;
      finished = true;
      clearTimeout(backstop);
      killGroup();
      for (const reader of readers) reader.flush();
      const durationMs = performance.now() - started;
      // timeout(1) says 124 when it stopped the guest, 137 when it had to kill it.
      done({ output, durationMs, timedOut: code === 124 || code === 137 || stoppedByBackstop });
    };
    child.on("error", (error) => {
      clearTimeout(backstop);
      fail(error);
    });
    // Normally the pipes close right after the exit; if something left behind holds them, stop waiting.
    child.on("exit", (code) => setTimeout(() => finish(code), 1000).unref());
    child.on("close", (code) => finish(code));
  });
}

// CSI sequences (ESC [ ... letter) and the "ESC c" reset that SeaBIOS writes to the serial port.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the control characters to remove
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]|\x1bc/g;

export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

export function tail(text: string, lines = 40): string {
  return text.split("\n").slice(-lines).join("\n");
}
