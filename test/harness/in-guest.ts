import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";

/**
 * Helpers for scenarios running INSIDE the guest (see guest.ts; UML or QEMU, the same helpers): network namespaces, veth pairs,
 * bridges, dummy VIP interfaces, loopback HTTP servers, result files. Every process start costs
 * 50-250 ms (UML) to about 1 s (node under QEMU/TCG) in the guest, so helpers run one command per step and
 * nothing in a loop.
 */

export function inGuest(): boolean {
  const { env } = process;
  return env.LVSQ_IN_GUEST === "1";
}

/**
 * How much slower than User-Mode Linux or KVM this guest runs the fleet: 1 there; under QEMU's software
 * emulation (TCG) it is measured, as the time one `node -e 0` takes here (the median of three) over 0.3 s (0.4 s under UML: the
 * extra margin is for the emulated guest's stalls, which one start does not show), kept between 2 and 5. A
 * scenario multiplies its protocol timers (check interval and timeout, vote TTL, lease time) and its waits
 * by it, so the fleet sees the same story slowed down; its test reads the timers back from the results, so
 * every bound follows the timers the run really used. Measured once per boot and handed to every child
 * process through LVSQ_GUEST_TIME_SCALE (which also forces a value, set on the host: guest.ts passes it in).
 */
export function guestTimeScale(
  env: NodeJS.ProcessEnv = process.env,
  options: {
    /** A floor for the measured scale, for a scenario heavier than one node start shows. */
    tcgAtLeast?: number;
  } = {},
): number {
  const given = Number(env.LVSQ_GUEST_TIME_SCALE);
  if (given > 0) return given;
  if (env.LVSQ_GUEST_ACCEL !== "tcg") return 1;
  const scale = Math.max(options.tcgAtLeast ?? 0, measuredTcgScale(env));
  env.LVSQ_GUEST_TIME_SCALE = String(scale);
  return scale;
}

function measuredTcgScale(env: NodeJS.ProcessEnv): number {
  // The median of three starts: the first minute after boot has stalls of its own, and one slow start
  // would stretch a whole scenario (a start of 1.45 s once ran the multi-site story at scale 5, 343 s).
  const starts = [0, 1, 2].map(() => {
    const started = performance.now();
    execFileSync(process.execPath, ["-e", "0"]);
    return performance.now() - started;
  });
  const nodeStartMs = starts.sort((a, b) => a - b)[1]!;
  env.LVSQ_GUEST_NODE_START_MS = String(Math.round(nodeStartMs));
  return Math.min(5, Math.max(2, Math.round((nodeStartMs / 300) * 2) / 2));
}

/** Runs a program synchronously (10 s deadline), returns stdout; throws with its stderr. */
export function run(argv: readonly string[], input?: string): string {
  try {
    return execFileSync(argv[0] as string, argv.slice(1), {
      input: input ?? "",
      encoding: "utf8",
      timeout: 10_000,
      stdio: ["pipe", "pipe", "pipe"],
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`\`${argv.join(" ")}\` failed: ${stderr.trim() || String(error)}`);
  }
}

/**
 * Runs a program without blocking the event loop (use it when this process also serves, e.g. `curl`
 * against in-process HTTP servers); 10 s deadline; resolves stdout, rejects with stderr.
 */
export function runAsync(argv: readonly string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((done, fail) => {
    execFile(
      argv[0] as string,
      argv.slice(1),
      { encoding: "utf8", timeout: timeoutMs },
      (error, stdout, stderr) => {
        if (!error) return done(stdout);
        // A command killed at its deadline says nothing on stderr: name the deadline and keep its stdout.
        const why = error.killed ? `killed after ${timeoutMs} ms (no exit by its deadline)` : String(error);
        fail(
          new Error(
            `\`${argv.join(" ")}\` failed: ${why}\nstderr: ${stderr.trim() || "(empty)"}\nstdout: ${stdout.trim() || "(empty)"}`,
          ),
        );
      },
    );
  });
}

/** `ip ...`, optionally inside a namespace (`ip -n NS ...`). */
export function ip(args: readonly string[], netns?: string): string {
  return run(netns === undefined ? ["ip", ...args] : ["ip", "-n", netns, ...args]);
}

/** A new network namespace with lo up: its own IPVS table, routes and addresses. */
export function addNetns(name: string): string {
  ip(["netns", "add", name]);
  ip(["link", "set", "lo", "up"], name);
  return name;
}

export type VethEnd = { name: string; netns?: string; address?: string };

/** A veth pair; each end optionally moved into a namespace, given an address (CIDR) and set up. */
export function addVethPair(a: VethEnd, b: VethEnd): void {
  ip(["link", "add", a.name, "type", "veth", "peer", "name", b.name]);
  for (const end of [a, b]) {
    if (end.netns !== undefined) ip(["link", "set", end.name, "netns", end.netns]);
    if (end.address !== undefined) ip(["addr", "add", end.address, "dev", end.name], end.netns);
    ip(["link", "set", end.name, "up"], end.netns);
  }
}

/** A bridge (a switch between namespaces): `ports` are interfaces in the same namespace. */
export function addBridge(
  name: string,
  options: { netns?: string; ports?: string[]; address?: string } = {},
): void {
  ip(["link", "add", name, "type", "bridge"], options.netns);
  for (const port of options.ports ?? []) ip(["link", "set", port, "master", name], options.netns);
  if (options.address !== undefined) ip(["addr", "add", options.address, "dev", name], options.netns);
  ip(["link", "set", name, "up"], options.netns);
}

/** A dummy interface holding VIPs (CIDRs such as 192.0.2.10/32), the way a director holds its VIPs. */
export function addDummyVip(name: string, addresses: readonly string[], netns?: string): void {
  ip(["link", "add", name, "type", "dummy"], netns);
  for (const address of addresses) ip(["addr", "add", address, "dev", name], netns);
  ip(["link", "set", name, "up"], netns);
}

export type LoopbackHttpServer = { host: string; port: number; hits: () => number; server: Server };

/** In-process HTTP servers (e.g. on 127.0.0.2 and 127.0.0.3, port 0) that answer with their host:port. */
export async function startHttpServers(hosts: readonly string[], port = 0): Promise<LoopbackHttpServer[]> {
  return Promise.all(
    hosts.map(
      (host) =>
        new Promise<LoopbackHttpServer>((ready, fail) => {
          let hits = 0;
          // The port is read once at listen time: address() is null while the server closes, and a request
          // on a kept connection can still arrive then.
          let bound = port;
          const server = createServer((_req, res) => {
            hits++;
            res.setHeader("connection", "close");
            res.end(`${host}:${bound}\n`);
          });
          server.once("error", fail);
          server.listen(port, host, () => {
            bound = (server.address() as AddressInfo).port;
            ready({ host, port: bound, hits: () => hits, server });
          });
        }),
    ),
  );
}

export async function closeHttpServers(servers: readonly LoopbackHttpServer[]): Promise<void> {
  await Promise.all(servers.map((s) => new Promise((done) => s.server.close(done))));
}

const HTTP_SERVER_SOURCE = `
const http = require("node:http");
const [host, port] = process.argv.slice(1);
const server = http.createServer((q, s) => { s.setHeader("connection", "close"); s.end(host + ":" + server.address().port + "\\n"); });
server.listen(Number(port), host, () => console.log("listening " + server.address().port));
process.on("SIGTERM", () => process.exit(0));
`;

/** An HTTP server in its own process, e.g. inside another namespace (a backend "host"). */
export async function spawnHttpServer(options: {
  host: string;
  port?: number;
  netns?: string;
  timeoutMs?: number;
}): Promise<{ port: number; child: ChildProcess; stop: () => void }> {
  const node = ["node", "-e", HTTP_SERVER_SOURCE, options.host, String(options.port ?? 0)];
  const argv = options.netns === undefined ? node : ["ip", "netns", "exec", options.netns, ...node];
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((ready, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`http server on ${options.host} did not start`)),
      options.timeoutMs ?? 10_000,
    );
    child.stdout?.on("data", (chunk: Buffer) => {
      const found = /listening (\d+)/.exec(chunk.toString());
      if (found) {
        clearTimeout(timer);
        ready(Number(found[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`http server on ${options.host} exited with ${code}`));
    });
  });
  return {
    port,
    child,
    stop: () => child.pid !== undefined && child.exitCode === null && child.kill("SIGTERM"),
  };
}

/** `/proc/net/ip_vs_conn` rows of the current namespace (no process start). */
export function ipvsConnections(): string[] {
  return readFileSync("/proc/net/ip_vs_conn", "utf8").trim().split("\n").slice(1);
}

/** Active/inactive connection counts per destination from `/proc/net/ip_vs` (hex addresses, as printed). */
export function ipvsDestinationCounts(): {
  service: string;
  dest: string;
  active: number;
  inactive: number;
}[] {
  const rows: { service: string; dest: string; active: number; inactive: number }[] = [];
  let service = "";
  for (const line of readFileSync("/proc/net/ip_vs", "utf8").split("\n").slice(3)) {
    const t = line.trim().split(/\s+/);
    if (t[0] === "->") rows.push({ service, dest: t[1] ?? "", active: Number(t[4]), inactive: Number(t[5]) });
    else if (t.length > 1) service = `${t[0]} ${t[1]}`;
  }
  return rows;
}

/** `7F000002:0050` as /proc/net/ip_vs prints 127.0.0.2:80. */
export function procHexEndpoint(host: string, port: number): string {
  const hex = host
    .split(".")
    .map((o) => Number(o).toString(16).padStart(2, "0"))
    .join("")
    .toUpperCase();
  return `${hex}:${port.toString(16).padStart(4, "0").toUpperCase()}`;
}

/** Real servers of one virtual service as { "198.51.100.11:8080": weight }, from /proc/<pid>/net/ip_vs. */
export function readKernelService(pid: number | "self", vip: string, port: number): Record<string, number> {
  const wanted = procHexEndpoint(vip, port);
  const rows: Record<string, number> = {};
  let inService = false;
  for (const line of readFileSync(`/proc/${pid}/net/ip_vs`, "utf8").split("\n").slice(3)) {
    const t = line.trim().split(/\s+/);
    if (t[0] === "->") {
      if (inService) rows[fromHexEndpoint(t[1] ?? "")] = Number(t[3]);
    } else if (t.length > 1) inService = t[1] === wanted;
  }
  return rows;
}

/** True when the virtual service exists in that namespace's table. */
export function kernelHasService(pid: number | "self", vip: string, port: number): boolean {
  const wanted = procHexEndpoint(vip, port);
  return readFileSync(`/proc/${pid}/net/ip_vs`, "utf8")
    .split("\n")
    .some((line) => line.trim().split(/\s+/)[1] === wanted);
}

export function fromHexEndpoint(text: string): string {
  const [host = "", port = "0"] = text.split(":");
  const ip = (host.match(/../g) ?? []).map((h) => Number.parseInt(h, 16)).join(".");
  return `${ip}:${Number.parseInt(port, 16)}`;
}

/** Writes a JSON result file under LVSQ_GUEST_OUT for the host side to assert on. */
/**
 * A crash of a scenario process must say why, not leave an "incomplete" result behind: on an uncaught
 * error, `record` notes it (then saves), and the process exits 1.
 */
export function exitOnCrash(record: (error: string) => void): void {
  const crashed = (error: unknown) => {
    record(`scenario process crashed: ${String((error as Error)?.stack ?? error)}`);
    process.exit(1);
  };
  process.on("uncaughtException", crashed);
  process.on("unhandledRejection", crashed);
}

export function writeResult(name: string, data: unknown): void {
  const { env } = process;
  const path = join(env.LVSQ_GUEST_OUT ?? ".", name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
}

/**
 * A scenario's record: `results` saved to `file` under LVSQ_GUEST_OUT after every step; `step(name, body)`
 * stores what the body returns (or its error, so later steps still run) under `name` and prints its time.
 */
export function scenarioRecord(file = "results.json") {
  const results: Record<string, unknown> = {};
  const save = () => writeResult(file, results);
  const step = async (name: string, body: () => Promise<unknown>): Promise<void> => {
    const started = Date.now();
    try {
      results[name] = await body();
    } catch (error) {
      results[name] = { error: String((error as Error).stack ?? error) };
    }
    console.log(`step ${name}: ${Date.now() - started} ms`);
    save();
  };
  return { results, save, step };
}

/** An observation window: the point is that nothing happens during it, so it is a fixed wait. */
export const observe = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `test` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, test: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = test();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Shell functions for `script` scenarios: lvsq_netns NAME, lvsq_veth A B [NS_A] [NS_B], lvsq_dummy NAME CIDR. */
export const SHELL_HELPERS = `
lvsq_netns() { ip netns add "$1" && ip -n "$1" link set lo up; }
lvsq_veth() { ip link add "$1" type veth peer name "$2"; [ -n "$3" ] && ip link set "$1" netns "$3"; [ -n "$4" ] && ip link set "$2" netns "$4"; true; }
lvsq_dummy() { ip link add "$1" type dummy && ip addr add "$2" dev "$1" && ip link set "$1" up; }
lvsq_result() { cp "$1" "$LVSQ_GUEST_OUT/"; }
`;
