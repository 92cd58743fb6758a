// Runs INSIDE the guest: `lvsq run` (standalone) against a real kernel IPVS table, the classic shell
// loop's story. Writes raw observations to results.json; director-standalone.test.ts asserts on the host.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  addDummyVip,
  kernelHasService,
  readKernelService,
  run,
  closeHttpServers,
  guestTimeScale,
  type LoopbackHttpServer,
  runAsync,
  startHttpServers,
  waitFor,
  writeResult,
} from "../harness/in-guest.js";

const { env } = process;
const out = env.LVSQ_GUEST_OUT ?? ".";
const root = env.LVSQ_REPO ?? process.cwd();
// Timers and waits stretch with the guest (1 under UML and KVM, 2-5 under QEMU's emulation:
// test/harness/in-guest.ts, guestTimeScale); the test derives its bounds from what is reported here.
const S = guestTimeScale();
const interval = 1000 * S;
const timeout = 500 * S;
const fall = 2;
const voteTtl = 3000 * S;
const startupGrace = 1000 * S;

/** Real servers in the kernel for the VIP, as { "127.0.0.2:8080": weight }, read from /proc (no exec). */
const kernelTable = () => readKernelService("self", "192.0.2.10", 80);

const results: Record<string, unknown> = {
  timers: { intervalMs: interval, timeoutMs: timeout, fall },
  timeScale: S,
  nodeStartMs: Number(env.LVSQ_GUEST_NODE_START_MS ?? 0),
};
const save = () => writeResult("results.json", results);

async function main() {
  addDummyVip("vip0", ["192.0.2.10/32"]);
  let backends: LoopbackHttpServer[] = await startHttpServers(["127.0.0.2", "127.0.0.3"], 8080);
  const sorry = await startHttpServers(["127.0.0.9"], 8080);
  const api = await startHttpServers(["127.0.0.4"], 8080);
  // Somebody else's service, made before lvsq starts: no config of this scenario has it.
  run(["ipvsadm", "-A", "-t", "192.0.2.12:80", "-s", "rr"]);
  run(["ipvsadm", "-a", "-t", "192.0.2.12:80", "-r", "127.0.0.5:8080", "-m", "-w", "1"]);
  const config = join(out, "seed.yaml");
  const yaml = (withApi: boolean) =>
    `# the seed example's story with test addresses and short timers
cluster: seed
defaults: { check: { type: http, path: /, interval: ${interval}ms, timeout: ${timeout}ms, fall: ${fall}, rise: 1 } }
quorum: { voteTtl: ${voteTtl}ms, startupGrace: ${startupGrace}ms }
director: { reconcileInterval: 5s }
services:
  web:
    vip: 192.0.2.10:80
    scheduler: wrr
    forwarding: nat
    fallback: [{ address: 127.0.0.9:8080, weight: 1 }]
    realServers:
      - { address: 127.0.0.2:8080, weight: 1 }
      - { address: 127.0.0.3:8080, weight: 3 }
${withApi ? "  api:\n    vip: 192.0.2.11:80\n    forwarding: nat\n    realServers: [{ address: 127.0.0.4:8080 }]\n" : ""}`;
  writeFileSync(config, yaml(true));
  // On the guest's own tmpfs: a Unix socket on the shared root does not connect under QEMU (9p).
  const socket = "/run/lvsq-control.sock";
  const lines: string[] = [];
  const agent = spawn("node", [join(root, "packages/cli/bin/lvsq.js"), "run", "--config", config], {
    env: { ...env, LVSQ_CONTROL_SOCKET: socket },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let rest = "";
  const collect = (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split("\n");
    rest = parts.pop() ?? "";
    lines.push(...parts);
  };
  agent.stdout.on("data", collect);
  agent.stderr.on("data", collect);
  const exited = new Promise<number | null>((done) => agent.once("exit", (code) => done(code)));

  try {
    results.bothIn = await waitFor(
      "both real servers in",
      () => {
        const t = kernelTable();
        return t["127.0.0.2:8080"] === 1 && t["127.0.0.3:8080"] === 3 && !("127.0.0.9:8080" in t)
          ? t
          : undefined;
      },
      20_000 * S,
    );
    results.apiIn = await waitFor(
      "the api service in",
      () => (readKernelService("self", "192.0.2.11", 80)["127.0.0.4:8080"] === 1 ? true : undefined),
      20_000 * S,
    );
    results.curl = await runAsync(["curl", "-s", "--max-time", "2", "http://192.0.2.10/"]).catch(
      (e: Error) => `error: ${e.message}`,
    );
    save();

    const killedAt = Date.now();
    await closeHttpServers([backends[1]!]);
    results.oneDown = await waitFor(
      "127.0.0.3 removed",
      () =>
        !("127.0.0.3:8080" in kernelTable())
          ? { table: kernelTable(), ms: Date.now() - killedAt }
          : undefined,
      15_000 * S,
    );
    save();

    const bothKilledAt = Date.now();
    await closeHttpServers([backends[0]!]);
    results.fallbackIn = await waitFor(
      "fallback in, no real server",
      () => {
        const t = kernelTable();
        return t["127.0.0.9:8080"] === 1 && Object.keys(t).length === 1
          ? { table: t, ms: Date.now() - bothKilledAt }
          : undefined;
      },
      15_000 * S,
    );
    save();

    const backAt = Date.now();
    backends = await startHttpServers(["127.0.0.2"], 8080);
    results.oneBack = await waitFor(
      "127.0.0.2 back at weight 1, fallback out",
      () => {
        const t = kernelTable();
        return t["127.0.0.2:8080"] === 1 && !("127.0.0.9:8080" in t)
          ? { table: t, ms: Date.now() - backAt }
          : undefined;
      },
      15_000 * S,
    );
    save();

    // The operator takes `api` out of the config and reloads: lvsq deletes what it owned until now, and
    // leaves the service it never owned exactly as it was.
    writeFileSync(config, yaml(false));
    const reloadAt = Date.now();
    agent.kill("SIGHUP");
    results.apiRemoved = await waitFor(
      "the api service deleted after the reload",
      () => (!kernelHasService("self", "192.0.2.11", 80) ? { ms: Date.now() - reloadAt } : undefined),
      20_000 * S,
    );
    results.handmade = {
      present: kernelHasService("self", "192.0.2.12", 80),
      table: readKernelService("self", "192.0.2.12", 80),
    };
    results.webAfterReload = kernelTable();
    save();

    results.explain = await runAsync(
      [
        "env",
        `LVSQ_CONTROL_SOCKET=${socket}`,
        "node",
        join(root, "packages/cli/bin/lvsq.js"),
        "explain",
        "--config",
        config,
        "web",
      ],
      20_000 * S,
    ).catch((e: Error) => `error: ${e.message}`);
    save();
  } catch (error) {
    results.error = String((error as Error).stack ?? error);
  } finally {
    agent.kill("SIGTERM");
    results.exitCode = await exited;
    results.tableAfterStop = kernelTable();
    results.log = lines;
    save();
    await closeHttpServers([...backends, ...sorry, ...api]).catch(() => {});
  }
}

await main();
