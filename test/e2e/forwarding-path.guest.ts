// Runs INSIDE the guest: checks through the forwarding path on a real kernel. The guest's root namespace is
// the director host (VIP 192.0.2.10 on a dummy, 198.51.100.1 on a bridge toward the real servers, nats,
// `lvsq director`, a direct probe and the forwarding probe); two DR real servers live in namespaces with the
// VIP on their loopback. forwarding-path.test.ts asserts on the host.
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { type GuestProcess, spawnInNetns } from "../harness/fleet-agents.js";
import {
  addBridge,
  addDummyVip,
  addNetns,
  addVethPair,
  guestTimeScale,
  ip,
  readKernelService,
  run,
  runAsync,
  scenarioRecord,
  waitFor,
} from "../harness/in-guest.js";

const { env } = process;
const out = env.LVSQ_GUEST_OUT ?? ".";
const root = env.LVSQ_REPO ?? process.cwd();
const S = guestTimeScale();
const interval = 1000 * S;
const timeout = 500 * S;
const { results, save, step } = scenarioRecord();
results.timers = { intervalMs: interval, timeoutMs: timeout, fall: 2, rise: 1 };
results.timeScale = S;

// Answers with its namespace's name, on every address (its own for direct checks, the VIP through the path).
const SERVER = `require("node:http").createServer((q, s) => { s.setHeader("connection", "close"); s.end(process.argv[1] + "\\n"); }).listen(80, "0.0.0.0", () => console.log("listening"));`;

const sysctl = (setting: string, netns?: string) =>
  run(
    netns === undefined
      ? ["sysctl", "-qw", setting]
      : ["ip", "netns", "exec", netns, "sysctl", "-qw", setting],
  );

function buildNetwork(): void {
  addDummyVip("vip0", ["192.0.2.10/32"]);
  const ports: string[] = [];
  for (const [i, name] of ["rs1", "rs2", "rs3"].entries()) {
    addNetns(name);
    addVethPair({ name: `${name}-br` }, { name: "eth0", netns: name, address: `198.51.100.${11 + i}/24` });
    ports.push(`${name}-br`);
    // A DR real server holds the VIP but never answers ARP for it; a tunnel one (rs3) holds it on its
    // IPIP device, where the director's encapsulated packets come out.
    ip(["addr", "add", "192.0.2.10/32", "dev", name === "rs3" ? "tunl0" : "lo"], name);
    if (name === "rs3") {
      ip(["link", "set", "tunl0", "up"], name);
      sysctl("net.ipv4.conf.tunl0.rp_filter=0", name);
    }
    sysctl("net.ipv4.conf.all.arp_ignore=1", name);
    sysctl("net.ipv4.conf.all.arp_announce=2", name);
  }
  addBridge("br0", { ports, address: "198.51.100.1/24" });
  // Replies to checks through the path come from the VIP, which this host holds too (docs/checks.md).
  sysctl("net.ipv4.conf.all.accept_local=1");
  sysctl("net.ipv4.conf.br0.accept_local=1");
}

const fleetYaml = `cluster: path
sites: [a, path]
probes:
  - { id: pa, site: a }
  - { id: lvs-a-path, site: path, forwarding: { source: 198.51.100.1 } }
directors: [{ id: lvs-a }]
nats: { servers: ["nats://127.0.0.1:14222"] }
# One site seeing a server down takes it out: the path probe alone can remove one.
quorum: { by: site, down: 1, up: 2, voteTtl: ${6 * interval}ms, startupGrace: ${interval}ms }
defaults: { check: { type: http, path: /, interval: ${interval}ms, timeout: ${timeout}ms, fall: 2, rise: 1 } }
director: { driver: netlink, reconcileInterval: 5s }
services:
  web:
    vip: 192.0.2.10:80
    scheduler: rr
    forwarding: dr
    realServers: [{ address: 198.51.100.11 }, { address: 198.51.100.12 }, { address: 198.51.100.13, forwarding: tunnel }]
`;

const webTable = () => readKernelService("self", "192.0.2.10", 80);
const ipvsList = async () => (await runAsync(["ipvsadm", "-S", "-n"])).split("\n").filter(Boolean).sort();
const pinnedCurl = (ports: string) =>
  runAsync(
    [
      "curl",
      "-s",
      "--max-time",
      String(2 * S),
      "--interface",
      "198.51.100.1",
      "--local-port",
      ports,
      "http://192.0.2.10/",
    ],
    5000 * S,
  ).then(
    (text) => text.trim(),
    (error: Error) => `failed: ${error.message.split("\n")[0]}`,
  );

async function waitTable(what: string, want: (table: Record<string, number>) => boolean, ms: number) {
  const startedAt = Date.now();
  await waitFor(what, () => (want(webTable()) ? true : undefined), ms);
  return { ms: Date.now() - startedAt, table: webTable() };
}

const flips = (proc: GuestProcess, rs: string) =>
  proc
    .logs()
    .filter((l) => l.msg === "vote changed" && l.rs === rs)
    .map((l) => ({ to: l.to, reason: l.reason }));

async function main(): Promise<void> {
  buildNetwork();
  for (const name of ["rs1", "rs2", "rs3"]) {
    const server = spawnInNetns(`server-${name}`, name, ["node", "-e", SERVER, name]);
    await server.waitForLine((l) => l === "listening", 10_000 * S);
  }
  const config = join(out, "fleet.yaml");
  writeFileSync(config, fleetYaml);
  const nats = spawnInNetns("nats", undefined, [
    "nats-server",
    "-a",
    "127.0.0.1",
    "-p",
    "14222",
    "-js",
    "-sd",
    join(out, "js"),
  ]);
  await nats.waitForLine((l) => l.includes("Server is ready"), 15_000);
  const lvsq = (name: string, args: string[]) =>
    spawnInNetns(name, undefined, [
      "node",
      join(root, "packages/cli/bin/lvsq.js"),
      "--log-level",
      "debug",
      ...args,
      "--config",
      config,
    ]);
  const director = lvsq("director", ["director", "--id", "lvs-a"]);
  const direct = lvsq("probe-pa", ["probe", "--id", "pa"]);
  const path = lvsq("probe-path", ["probe", "--id", "lvs-a-path"]);
  results.logs = { director: director.lines, direct: direct.lines, path: path.lines };

  await step("pinsInstalled", async () => {
    await path.waitForLine((l) => l.includes('"msg":"forwarding pins installed"'), 30_000 * S);
    const nft = await runAsync(["nft", "list", "table", "ip", "lvsq_path_lvs_a_path"]);
    return {
      ipvs: await ipvsList(),
      nft: nft
        .split("\n")
        .filter((l) => l.includes("mark set"))
        .map((l) => l.trim()),
    };
  });
  await step("bothIn", () =>
    waitTable("every real server in the VIP's table", (t) => Object.keys(t).length === 3, 60_000 * S),
  );
  // Three connections from each server's block (curl picks a free port in the range).
  await step("pinnedCurl", async () => {
    const blocks = { rs1Block: "61000-61063", rs2Block: "61064-61127", rs3Block: "61128-61191" };
    const answers: Record<string, string[]> = {};
    for (const [name, ports] of Object.entries(blocks)) {
      answers[name] = [await pinnedCurl(ports), await pinnedCurl(ports), await pinnedCurl(ports)];
    }
    return answers;
  });
  // rs2 stops holding the VIP: it still answers on its own address (the direct probe says up), but every
  // packet the director forwards to it for the VIP is dropped (real clients would time out).
  await step("pathBroken", async () => {
    ip(["addr", "del", "192.0.2.10/32", "dev", "lo"], "rs2");
    const removed = await waitTable(
      "rs2 out of the VIP's table",
      (t) => !("198.51.100.12:80" in t) && "198.51.100.11:80" in t && "198.51.100.13:80" in t,
      20 * interval + 30_000,
    );
    return {
      ...removed,
      pathFlips: flips(path, "198.51.100.12:80"),
      directFlips: flips(direct, "198.51.100.12:80"),
    };
  });
  await step("pathRestored", async () => {
    ip(["addr", "add", "192.0.2.10/32", "dev", "lo"], "rs2");
    return waitTable("rs2 back in the VIP's table", (t) => "198.51.100.12:80" in t, 20 * interval + 30_000);
  });
  // Without accept_local the replies from the VIP would be dropped here: the path probe abstains (and
  // says why) instead of voting every server down; the table keeps both.
  await step("acceptLocalOff", async () => {
    const from = path.lines.length;
    sysctl("net.ipv4.conf.all.accept_local=0");
    sysctl("net.ipv4.conf.br0.accept_local=0");
    const line = await path.waitForLine(
      (l) => l.includes("checks through this VIP cannot get their replies"),
      20_000 * S,
      from,
    );
    await new Promise((resolve) => setTimeout(resolve, 4 * interval));
    const abstains = path
      .logs()
      .filter((l) => l.msg === "check" && l.verdict === "abstain")
      .map((l) => String(l.reason));
    sysctl("net.ipv4.conf.all.accept_local=1");
    sysctl("net.ipv4.conf.br0.accept_local=1");
    return { line: JSON.parse(line), table: webTable(), lastAbstain: abstains.at(-1) };
  });
  await step("stopped", async () => {
    const code = await path.stop("SIGTERM", 10_000 * S);
    const tables = await runAsync(["nft", "list", "tables"]);
    return { code, ipvs: await ipvsList(), nftTables: tables.split("\n").filter(Boolean) };
  });
  for (const proc of [direct, director, nats]) await proc.stop("SIGTERM", 5000 * S);
  save();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    results.error = String((error as Error).stack ?? error);
    save();
    process.exit(0);
  },
);
