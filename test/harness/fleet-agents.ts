import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Fleet } from "./topology.js";

/**
 * The processes of a multi-site fleet INSIDE the guest (see topology.ts): nats-server, the backends,
 * lvsq agents and a client, each started in its namespace with `ip netns exec`, their output kept line by
 * line. Every wait is bounded; every process is stopped by its own PID.
 */

const started = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of started) if (child.exitCode === null && child.pid !== undefined) child.kill("SIGKILL");
});

export type GuestProcess = {
  name: string;
  child: ChildProcess;
  lines: string[];
  /** Parsed JSON lines (others skipped). */
  logs(): Record<string, unknown>[];
  exited: Promise<number | null>;
  running(): boolean;
  /** SIGTERM (or `signal`), SIGKILL after `graceMs`; resolves with the exit code. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  /** Resolves with the first line (from `fromLine` on) that matches, or throws after `timeoutMs`. */
  waitForLine(test: (line: string) => boolean, timeoutMs: number, fromLine?: number): Promise<string>;
  write(text: string): void;
};

export function spawnInNetns(
  name: string,
  netns: string | undefined,
  argv: readonly string[],
  env: Record<string, string> = {},
): GuestProcess {
  const full = netns === undefined ? [...argv] : ["ip", "netns", "exec", netns, ...argv];
  const child = spawn(full[0] as string, full.slice(1), {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  started.add(child);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const collect = (stream: NodeJS.ReadableStream) => {
    let rest = "";
    stream.on("data", (chunk: Buffer) => {
      const parts = (rest + chunk.toString("utf8")).split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
      for (const wake of waiters) wake();
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);
  const exited = new Promise<number | null>((done) =>
    child.once("exit", (code) => {
      started.delete(child);
      for (const wake of waiters) wake();
      done(code);
    }),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    child,
    lines,
    logs: () => parseJsonLines(lines),
    exited,
    running,
    async stop(signal = "SIGTERM", graceMs = 5000) {
      if (running()) child.kill(signal);
      const timer = setTimeout(() => running() && child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    waitForLine(test, timeoutMs, fromLine = 0) {
      return new Promise((done, fail) => {
        const check = () => {
          for (let i = fromLine; i < lines.length; i++) {
            if (test(lines[i] as string)) {
              finish();
              done(lines[i] as string);
              return;
            }
          }
          if (!running()) {
            finish();
            fail(
              new Error(
                `${name} exited before the expected line; last lines:\n${lines.slice(-15).join("\n")}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          finish();
          fail(
            new Error(
              `${name}: no expected line within ${timeoutMs} ms; last:\n${lines.slice(-15).join("\n")}`,
            ),
          );
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    write(text) {
      child.stdin?.write(text);
    },
  };
}

export function parseJsonLines(lines: readonly string[]): Record<string, unknown>[] {
  return lines.flatMap((line) => {
    if (!line.startsWith("{")) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/**
 * nats-server in the fleet's nats namespace on a fixed port (fine: the guest has its own network).
 * `jetstream: true` turns JetStream on (store under `dir`): KV buckets (director pairs, admin) need it.
 */
export function natsInGuest(fleet: Fleet, dir: string, port = 4222, options: { jetstream?: boolean } = {}) {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, "nats.conf");
  const jetstream = options.jetstream ? `jetstream { store_dir: ${JSON.stringify(join(dir, "js"))} }\n` : "";
  writeFileSync(conf, `listen: "${fleet.nats.address}:${port}"\nserver_name: lvsq_guest\n${jetstream}`);
  let current: GuestProcess | undefined;
  const url = `nats://${fleet.nats.address}:${port}`;
  return {
    url,
    /** Starts nats-server and waits for "Server is ready". */
    async start(): Promise<void> {
      current = spawnInNetns("nats-server", fleet.nats.netns, ["nats-server", "-c", conf]);
      await current.waitForLine((l) => l.includes("Server is ready"), 15_000);
    },
    async stop(): Promise<void> {
      await current?.stop("SIGTERM", 5000);
    },
    running: () => current?.running() ?? false,
  };
}

const BACKENDS_SOURCE = `
const http = require("node:http");
const readline = require("node:readline");
const servers = new Map();
const hung = new Set();
function start(endpoint) {
  const i = endpoint.lastIndexOf(":");
  const host = endpoint.slice(0, i), port = Number(endpoint.slice(i + 1));
  const server = http.createServer((q, s) => {
    // Hung: the connection is accepted and the request read, but no answer comes (a wedged backend).
    if (hung.has(endpoint)) return void q.socket.setTimeout(60000, () => q.socket.destroy());
    s.setHeader("connection", "close"); s.end(endpoint + "\\n");
  });
  // A port just closed can still be busy for a moment (a flapping backend): retry for up to 5 s.
  let tries = 0;
  server.on("error", (e) => {
    if (e.code === "EADDRINUSE" && tries++ < 25) return void setTimeout(() => server.listen(port, host), 200);
    console.log("error " + endpoint + " " + e.message);
  });
  server.listen(port, host, () => console.log("listening " + endpoint + " " + Date.now()));
  servers.set(endpoint, server);
}
function kill(endpoint) {
  const server = servers.get(endpoint);
  if (!server) return console.log("closed " + endpoint + " " + Date.now());
  servers.delete(endpoint);
  server.closeAllConnections();
  server.close();
  console.log("closed " + endpoint + " " + Date.now());
}
for (const e of process.argv.slice(1)) start(e);
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const [cmd, endpoint] = line.trim().split(" ");
  if (cmd === "kill") kill(endpoint); else if (cmd === "start") start(endpoint);
  else if (cmd === "hang") { hung.add(endpoint); console.log("hung " + endpoint + " " + Date.now()); }
  else if (cmd === "serve") { hung.delete(endpoint); console.log("serving " + endpoint + " " + Date.now()); }
});
process.on("SIGTERM", () => process.exit(0));
`;

/**
 * HTTP backends in the backends' namespace (one process, one listener per `host:port`, each host one of
 * fleet.backends.addresses) that answer with their endpoint; kill/start by command.
 */
export async function startBackends(fleet: Fleet, endpoints: readonly string[]) {
  const proc = spawnInNetns("backends", fleet.backends.netns, ["node", "-e", BACKENDS_SOURCE, ...endpoints]);
  for (const e of endpoints) await proc.waitForLine((l) => l.startsWith(`listening ${e} `), 20_000);
  const answers = { kill: "closed", start: "listening", hang: "hung", serve: "serving" } as const;
  const command = async (cmd: keyof typeof answers, endpoint: string) => {
    const from = proc.lines.length;
    proc.write(`${cmd} ${endpoint}\n`);
    const want = `${answers[cmd]} ${endpoint} `;
    const line = await proc.waitForLine((l) => l.startsWith(want), 10_000, from);
    // The moment the backend process closed (or opened) the listener, by its own clock (the guest's).
    return Number(line.slice(want.length));
  };
  return {
    endpoints,
    proc,
    /** Closes the listener and every connection (new connections are refused); resolves at that moment. */
    kill: (endpoint: string) => command("kill", endpoint),
    start: (endpoint: string) => command("start", endpoint),
    /** Keeps listening and accepting, but answers no request until `serve`; resolves at that moment. */
    hang: (endpoint: string) => command("hang", endpoint),
    serve: (endpoint: string) => command("serve", endpoint),
    stop: () => proc.stop(),
  };
}

const CLIENT_SOURCE = `
const http = require("node:http");
const [url, everyMs, timeoutMs] = process.argv.slice(1);
function once() {
  const t = Date.now();
  let done = false;
  const finish = (ok, text) => { if (done) return; done = true; console.log(JSON.stringify({ t, ms: Date.now() - t, ok, text })); };
  const req = http.get(url, { agent: false, timeout: Number(timeoutMs) }, (res) => {
    let body = ""; res.on("data", (c) => (body += c)); res.on("end", () => finish(res.statusCode === 200, body.trim()));
    res.on("error", (e) => finish(false, e.message));
  });
  req.on("timeout", () => { req.destroy(new Error("timeout")); });
  req.on("error", (e) => finish(false, e.code || e.message));
}
setInterval(once, Number(everyMs));
process.on("SIGTERM", () => process.exit(0));
`;

export type ClientSample = { t: number; ms: number; ok: boolean; text: string };

/** A client in its own namespace hitting the VIP every `everyMs` (fresh connection each), one JSON line per request. */
export function startClient(fleet: Fleet, url: string, everyMs = 100, timeoutMs = 1000) {
  const proc = spawnInNetns("client", fleet.client.netns, [
    "node",
    "-e",
    CLIENT_SOURCE,
    url,
    String(everyMs),
    String(timeoutMs),
  ]);
  return {
    proc,
    samples: (): ClientSample[] => proc.logs() as unknown as ClientSample[],
    stop: () => proc.stop(),
  };
}

/** `node packages/cli/bin/lvsq.js ARGS` inside a namespace. */
export function lvsqInNetns(name: string, netns: string | undefined, repo: string, args: readonly string[]) {
  return spawnInNetns(name, netns, ["node", join(repo, "packages/cli/bin/lvsq.js"), ...args]);
}
