import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const repoRoot = new URL("../../", import.meta.url).pathname;
export const lvsqBin = join(repoRoot, "packages/cli/bin/lvsq.js");

/** Polls `probe` until it returns a truthy value; fails with `what` after the deadline. Never a blind sleep. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function tempConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "lvsq-e2e-"));
  const file = join(dir, "fleet.yaml");
  writeFileSync(file, yaml);
  return file;
}

/** A running `lvsq` child process with its output captured line by line. */
export type LvsqProcess = {
  child: ChildProcess;
  lines: string[];
  /** Parsed JSON log lines (non-JSON lines are skipped). */
  logs(): Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

export function startLvsq(args: string[], env: Record<string, string> = {}): LvsqProcess {
  const child = spawn(process.execPath, [lvsqBin, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const collect = (stream: NodeJS.ReadableStream) => {
    let rest = "";
    stream.on("data", (chunk: Buffer) => {
      const parts = (rest + chunk.toString("utf8")).split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  started.add(child);
  exited.then(() => started.delete(child));
  return {
    child,
    lines,
    logs: () =>
      lines.flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

const started = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of started) if (child.pid !== undefined) child.kill("SIGKILL");
});

/** A loopback HTTP backend whose health the test switches: up (200), failing (503) or closed (refused). */
export type Backend = {
  address: string;
  port: number;
  setStatus(status: number): void;
  close(): Promise<void>;
  listen(): Promise<void>;
};

export async function startBackend(host = "127.0.0.1", port = 0): Promise<Backend> {
  let status = 200;
  let server: Server | undefined;
  let boundPort = port;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((_req, res) => {
        res.writeHead(status, { "content-type": "text/plain", connection: "close" });
        res.end(status === 200 ? "ok\n" : "failing\n");
      });
      server.once("error", reject);
      server.listen(boundPort, host, () => {
        boundPort = (server!.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen();
  return {
    get address() {
      return `${host}:${boundPort}`;
    },
    get port() {
      return boundPort;
    },
    setStatus: (s) => {
      status = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.closeAllConnections();
        server.close(() => resolve());
        server = undefined;
      }),
    listen,
  };
}

/** Resident set size of a process in MB, from /proc. */
export async function rssMb(pid: number): Promise<number> {
  const { readFile } = await import("node:fs/promises");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}
