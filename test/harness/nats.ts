import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A real nats-server (the Debian package) for tests: generated config with `listen: 127.0.0.1:-1`, the
 * JetStream store in a temp dir, the port read from `--ports_file_dir`. Never a fixed port: an orphaned
 * server from a crashed run must not silently serve the next one. `restart()` comes back on the SAME port
 * with the same store, which is what "server killed for 10 s and restarted" needs.
 */
export interface NatsServerHandle extends AsyncDisposable {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** PID of the current process (changes on restart). */
  readonly pid: number;
  /** The temp dir holding config, ports file and JetStream store. */
  readonly dir: string;
  running(): boolean;
  /** SIGTERM, then SIGKILL after 5 s; waits for exit. The store stays for `restart()`. */
  stop(): Promise<void>;
  /** SIGKILL (a crash); waits for exit. */
  kill(): Promise<void>;
  /** SIGSTOP: a hung server (the socket stays open; only client pings notice). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Starts again on the same port and store (stopping first if running). */
  restart(): Promise<void>;
  /** stop() and remove the temp dir. */
  dispose(): Promise<void>;
}

export type NatsServerOptions = {
  /** JetStream on (default true): KV needs it. */
  jetstream?: boolean;
  /** Extra nats-server config text appended as is (authorization blocks, limits). */
  extraConfig?: string;
  /** Start deadline (default 10 s). */
  startTimeoutMs?: number;
  /** `server_name` (default lvsq_test_<pid>); unique per node of a cluster. */
  serverName?: string;
  /** A cluster member: its route port (chosen by the caller, see nats-cluster.ts) and every route. */
  cluster?: { name: string; port: number; routes: readonly number[] };
  /** Accept leaf node connections on this port. */
  leafListenPort?: number;
  /** A leaf node: the hub's leaf ports it connects to. */
  leafRemotes?: readonly number[];
};

const running = new Set<ChildProcess>();
process.once("exit", () => {
  // Last resort for a crashed test run: only the servers this module started, by their PID.
  for (const child of running) if (child.pid !== undefined) child.kill("SIGKILL");
});

export function findNatsServer(): string {
  const found = spawnSync("sh", ["-c", "command -v nats-server || ls /usr/sbin/nats-server 2>/dev/null"], {
    encoding: "utf8",
  });
  const path = found.stdout.trim().split("\n")[0];
  if (found.status !== 0 || !path) {
    throw new Error("nats-server not found on PATH (needed by this test): apt-get install -y nats-server");
  }
  return path;
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = findNatsServer();
  const dir = await mkdtemp(join(tmpdir(), "lvsq-nats-"));
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  let child: ChildProcess | undefined;
  let port = -1;
  let stderr = "";

  const writeConfig = async (listenPort: number | "-1") => {
    const lines = [
      `listen: "127.0.0.1:${listenPort}"`,
      `server_name: ${options.serverName ?? `lvsq_test_${process.pid}`}`,
    ];
    if (options.jetstream ?? true) {
      lines.push(`jetstream { store_dir: ${JSON.stringify(join(dir, "js"))} }`);
    }
    const { cluster } = options;
    if (cluster) {
      const routes = cluster.routes.map((p) => `"nats-route://127.0.0.1:${p}"`).join(", ");
      lines.push(
        `cluster { name: ${cluster.name}, listen: "127.0.0.1:${cluster.port}", routes: [${routes}] }`,
      );
    }
    if (options.leafListenPort !== undefined) {
      lines.push(`leafnodes { listen: "127.0.0.1:${options.leafListenPort}" }`);
    }
    if (options.leafRemotes) {
      // One remote with every hub URL: one remote per URL of the same cluster is a loop to nats-server.
      const urls = options.leafRemotes.map((p) => `"nats-leaf://127.0.0.1:${p}"`).join(", ");
      lines.push(`leafnodes { remotes: [{ urls: [${urls}] }] }`);
    }
    if (options.extraConfig) lines.push(options.extraConfig);
    await writeFile(join(dir, "nats.conf"), `${lines.join("\n")}\n`);
  };

  const launch = async () => {
    stderr = "";
    const portsDir = join(dir, "ports");
    await rm(portsDir, { recursive: true, force: true });
    await mkdir(portsDir);
    const started = spawn(binary, ["-c", join(dir, "nats.conf"), "--ports_file_dir", portsDir], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = started;
    running.add(started);
    started.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-1_500);
    });
    started.once("exit", () => running.delete(started));
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (started.exitCode !== null || started.signalCode !== null) {
        throw new Error(`nats-server exited during start (code ${started.exitCode}): ${stderr.trim()}`);
      }
      const found = await readPortsFile(portsDir, started.pid!);
      if (found !== undefined) return found;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    started.kill("SIGKILL");
    throw new Error(`nats-server did not write its ports file within ${startTimeoutMs} ms: ${stderr.trim()}`);
  };

  const waitExit = async (target: ChildProcess, signal: NodeJS.Signals, graceMs: number) => {
    if (target.exitCode !== null || target.signalCode !== null) return;
    target.kill("SIGCONT"); // a paused server cannot handle SIGTERM
    const exited = new Promise<void>((resolve) => target.once("exit", () => resolve()));
    target.kill(signal);
    const timer = setTimeout(() => target.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };

  const isRunning = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  await writeConfig("-1");
  try {
    port = await launch();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  // From now on the server always comes back on this port.
  await writeConfig(port);

  const handle: NatsServerHandle = {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get pid() {
      return child?.pid ?? -1;
    },
    dir,
    running: isRunning,
    async stop() {
      if (child) await waitExit(child, "SIGTERM", 5_000);
    },
    async kill() {
      if (child) await waitExit(child, "SIGKILL", 5_000);
    },
    pause() {
      if (isRunning()) child!.kill("SIGSTOP");
    },
    resume() {
      if (isRunning()) child!.kill("SIGCONT");
    },
    async restart() {
      await handle.stop();
      const again = await launch();
      if (again !== port) throw new Error(`nats-server came back on port ${again}, expected ${port}`);
    },
    async dispose() {
      await handle.stop();
      await rm(dir, { recursive: true, force: true });
    },
    [Symbol.asyncDispose]() {
      return handle.dispose();
    },
  };
  return handle;
}

async function readPortsFile(portsDir: string, pid: number): Promise<number | undefined> {
  let names: string[];
  try {
    names = await readdir(portsDir);
  } catch {
    return undefined;
  }
  const name = names.find((file) => file.endsWith(`_${pid}.ports`));
  if (!name) return undefined;
  try {
    const ports = JSON.parse(await readFile(join(portsDir, name), "utf8")) as { nats?: string[] };
    const url = ports.nats?.[0];
    const port = url ? Number(new URL(url).port) : Number.NaN;
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined; // written but not complete yet
  }
}
