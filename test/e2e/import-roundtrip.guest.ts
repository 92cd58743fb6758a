// Runs INSIDE the guest: keepalived (Debian's package) builds a kernel table from a keepalived.conf, then
// lvsq runs the `lvsq import` of that same file, and both tables are read with `ipvsadm -S -n`.
// import-roundtrip.test.ts compares them on the host.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { run, runAsync, spawnHttpServer, writeResult } from "../harness/in-guest.js";

const { env } = process;
const out = env.LVSQ_GUEST_OUT ?? ".";
const root = env.LVSQ_REPO ?? process.cwd();
const lvsq = join(root, "packages/cli/bin/lvsq.js");
const config = join(root, "test/fixtures/import/roundtrip/keepalived.conf");
const results: Record<string, unknown> = {};
const save = () => writeResult("results.json", results);

/** The kernel table as `ipvsadm -S -n` lines, sorted: the order of services and servers is not compared. */
const table = async () => (await runAsync(["ipvsadm", "-S", "-n"])).split("\n").filter(Boolean).sort();

/** The settled table both must reach: every service there, the down servers decided. */
function settled(lines: string[]): boolean {
  const has = (fragment: string) => lines.some((line) => line.includes(fragment));
  return (
    lines.filter((line) => line.startsWith("-A")).length === 6 &&
    has("-a -t 192.0.2.10:80 -r 127.0.0.5:8080 -m -w 0") &&
    // DR and TUN: the kernel keeps a real server at the service's port (0 for fwmark), keepalived shows that.
    has("-a -t 192.0.2.11:80 -r 127.0.0.9:80") &&
    !has("-a -t 192.0.2.11:80 -r 127.0.0.5") &&
    has("-a -f 7 -r 127.0.0.3:0") &&
    has("-a -f 9 -r 127.0.0.2:0")
  );
}

function start(name: string, argv: string[], extraEnv: Record<string, string> = {}) {
  const lines: string[] = [];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...env, ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const collect = (chunk: Buffer) => lines.push(...chunk.toString().split("\n").filter(Boolean));
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  results[`${name}Log`] = lines;
  return { child, lines, exited };
}

/** Polls until the table is settled and stays the same for `quietMs` (no transition still on its way). */
async function settle(
  what: string,
  quietMs: number,
  deadlineMs: number,
): Promise<{ lines: string[]; ms: number }> {
  const startedAt = Date.now();
  let last = "";
  let since = Date.now();
  // Polled with an async exec every 300 ms: a check every second must not queue behind the poll.
  for (;;) {
    const lines = await table();
    const text = lines.join("\n");
    if (text !== last) {
      last = text;
      since = Date.now();
    }
    if (settled(lines) && Date.now() - since >= quietMs) return { lines, ms: Date.now() - startedAt };
    if (Date.now() - startedAt > deadlineMs) {
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}; last table:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

async function stop(child: ChildProcess, exited: Promise<number | null>): Promise<number | null> {
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

async function main() {
  const backends: { stop: () => void }[] = [];
  try {
    // Backends in their own processes: nothing this scenario does can hold up their answers.
    for (const host of ["127.0.0.2", "127.0.0.3", "127.0.0.9"]) {
      backends.push(await spawnHttpServer({ host, port: 8080, timeoutMs: 20_000 }));
    }
    results.keepalivedVersion = (
      await runAsync(["sh", "-c", "keepalived --version 2>&1"]).catch((e: Error) => e.message)
    ).trim();
    const keepalived = start("keepalived", [
      "keepalived",
      "--dont-fork",
      "--log-console",
      "--log-detail",
      "--check",
      "--use-file",
      config,
      "--pid",
      "/run/keepalived.pid",
      "--checkers_pid",
      "/run/keepalived-checkers.pid",
    ]);
    // keepalived starts every real server up and takes the failing ones out after retry + 1 checks; wait
    // for that, then 3 quiet seconds (3 check rounds) so nothing is still on its way.
    const fromKeepalived = await settle("keepalived's table", 3000, 60_000);
    results.keepalived = fromKeepalived.lines;
    results.keepalivedMs = fromKeepalived.ms;
    save();
    results.keepalivedExit = await stop(keepalived.child, keepalived.exited);
    // keepalived removes its virtual servers when it stops; clear anything left so lvsq starts empty.
    results.leftAfterKeepalived = await table();
    run(["ipvsadm", "-C"]);

    const imported = join(out, "imported.yaml");
    await runAsync(["node", lvsq, "import", "keepalived", config, "--out", imported], 60_000);
    const agent = start("lvsq", ["node", lvsq, "run", "--config", imported], {
      LVSQ_CONTROL_SOCKET: "/run/lvsq-roundtrip.sock",
      LVSQ_STATE_DIR: "/run/lvsq-state",
    });
    const fromLvsq = await settle("lvsq's table", 3000, 90_000);
    results.lvsq = fromLvsq.lines;
    results.lvsqMs = fromLvsq.ms;
    save();
    results.lvsqExit = await stop(agent.child, agent.exited);
  } catch (error) {
    results.error = String((error as Error).stack ?? error);
    results.tableAtError = await table().catch((e: Error) => [e.message]);
  } finally {
    save();
    for (const backend of backends) backend.stop();
  }
}

await main();
