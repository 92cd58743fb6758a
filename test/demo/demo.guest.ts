// `npm run demo`, the part that runs INSIDE the UML guest: a fleet of network namespaces (3 probe sites, a
// nats-server, a director with a real IPVS table, 4 backends, a fallback server, a client hitting the VIP)
// and a scripted story, narrated with the real `ipvsadm -L -n` table and `lvsq explain` after each step.
// Exit status 1 when a step's expectation fails.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type GuestProcess,
  lvsqInNetns,
  natsInGuest,
  startBackends,
  startClient,
} from "../harness/fleet-agents.js";
import { poll, siteVerdicts, watchBus, watchKernelTable } from "../harness/fleet-watch.js";
import { buildFleet, parkInNetns, setSiteBackendLink } from "../harness/topology.js";
import { runAsync } from "../harness/uml-guest.js";
import { type Narrator, narrator } from "./narrate.js";

const { env } = process;
const out = env.LVSQ_UML_OUT ?? ".";
const repo = env.LVSQ_REPO ?? process.cwd();
const VIP = "192.0.2.10";
const BACKENDS = ["198.51.100.11", "198.51.100.12", "198.51.100.13", "198.51.100.14"].map((a) => `${a}:8080`);
const SORRY = "198.51.100.99:8080";
const say: Narrator = narrator();

say.begin();
const fleet = buildFleet({
  sites: ["a", "b", "c"],
  backends: [...BACKENDS, SORRY].map((b) => b.split(":")[0]!),
  vip: VIP,
});
const config = join(out, "fleet.yaml");
writeFileSync(
  config,
  `cluster: demo
nats: { servers: ["nats://${fleet.nats.address}:4222"] }
defaults:
  check: { type: http, path: /, interval: 1s, timeout: 500ms, fall: 2, rise: 2 }
quorum: { by: site, down: majority, up: majority, voteTtl: 4s, startupGrace: 2s }
sites: [a, b, c]
probes: [{ id: probe-a, site: a }, { id: probe-b, site: b }, { id: probe-c, site: c }]
directors: [{ id: lvs-a }]
director: { reconcileInterval: 5s }
services:
  web:
    vip: ${VIP}:80
    scheduler: rr
    forwarding: nat
    fallback: [{ address: ${SORRY}, weight: 1 }]
    realServers:
${BACKENDS.map((b) => `      - { address: ${b}, weight: 1 }`).join("\n")}
`,
);
say.intro(fleet, config, BACKENDS, SORRY);

const park = parkInNetns(fleet.director.netns);
const table = watchKernelTable(park.pid, VIP, 80);
const nats = natsInGuest(fleet, join(out, "nats"));
const started: { stop(): Promise<unknown> }[] = [];
let director: GuestProcess | undefined;
let bus: Awaited<ReturnType<typeof watchBus>> | undefined;
let client: ReturnType<typeof startClient> | undefined;
let backends: Awaited<ReturnType<typeof startBackends>> | undefined;

/** nats-server, the backends, 3 probes, the director and the client, each in its namespace. */
async function startFleet(): Promise<string> {
  await nats.start();
  started.push({ stop: () => nats.stop() });
  backends = await startBackends(fleet, [...BACKENDS, SORRY]);
  started.push(backends);
  for (const s of fleet.sites)
    started.push(
      lvsqInNetns(`probe-${s.id}`, s.netns, repo, ["probe", "--config", config, "--id", `probe-${s.id}`]),
    );
  director = lvsqInNetns("director", fleet.director.netns, repo, [
    "director",
    "--config",
    config,
    "--id",
    "lvs-a",
  ]);
  started.push(director);
  const watch0 = await watchBus(nats.url, "demo");
  bus = watch0;
  started.push({ stop: () => watch0.close() });
  return "nats-server, 4 backends + a fallback server, 3 probes and the director are running";
}

const ipvsadmList = () => runAsync(["ip", "netns", "exec", fleet.director.netns, "ipvsadm", "-L", "-n"]);
const explain = () =>
  runAsync(
    ["node", join(repo, "packages/cli/bin/lvsq.js"), "explain", "--config", config, "web"],
    20_000,
  ).catch((e: Error) => `(lvsq explain failed: ${e.message})`);
const only =
  (...rs: string[]) =>
  (t: Record<string, number>) =>
    Object.keys(t).sort().join(",") === [...rs].sort().join(",");
/** Shows what happened in a step: director events, client answers, the kernel table, explain. */
async function show(since: number): Promise<void> {
  // Two seconds of traffic after the change first (the guest has one vCPU: while `lvsq explain` starts,
  // the client hardly runs), so the client's line shows the new table at work.
  await new Promise((r) => setTimeout(r, 2000));
  say.events(director?.logs() ?? [], since);
  say.client(client?.samples().filter((s) => s.t >= since) ?? []);
  say.command("ipvsadm -L -n   (in the director's namespace)", await ipvsadmList());
  say.command("lvsq explain --config fleet.yaml web", await explain());
}

try {
  await say.step("Starting the fleet", "every agent starts in its own namespace", startFleet);
  const b = backends!;
  const watch = bus!;
  let since = Date.now();
  await say.step(
    "All four backends are healthy",
    "every real server goes in at weight 1; a client starts",
    async () => {
      await poll(
        "all four in the kernel table",
        () => (only(...BACKENDS)(table.current()) ? true : undefined),
        40_000,
      );
      const filledIn = (Date.now() - since) / 1000;
      const c = startClient(fleet, `http://${VIP}/`, 100, 1000);
      client = c;
      started.push(c);
      await poll(
        "the client's first answer",
        () => (c.samples().some((s) => s.ok) ? true : undefined),
        10_000,
      );
      return `all four in after ${filledIn.toFixed(1)} s (the agents' start included); the client gets answers`;
    },
  );
  await show(since);

  since = Date.now();
  await say.step(
    `Backend ${BACKENDS[1]} dies`,
    "removed within fall × interval + timeout (2 × 1 s + 0.5 s), once 2 of 3 sites say so",
    async () => {
      const killedAt = await b.kill(BACKENDS[1]!);
      await poll(
        "removal",
        () => (table.current()[BACKENDS[1]!] === undefined ? true : undefined),
        10_000,
        10,
      );
      return `removed ${((Date.now() - killedAt) / 1000).toFixed(2)} s after it died`;
    },
  );
  await show(since);

  since = Date.now();
  await say.step(
    "Site a loses its network path to the backends (it still reaches NATS)",
    "site a votes every backend down, but 1 site of 3 is no quorum: nothing is removed",
    async () => {
      const before = table.current();
      setSiteBackendLink(fleet, "a", false);
      try {
        await poll(
          "site a voting down",
          async () => {
            const v = siteVerdicts(await watch.explain("lvs-a", "web"));
            return BACKENDS.filter((rs) => rs !== BACKENDS[1]).every((rs) => v[rs]?.a === "down")
              ? true
              : undefined;
          },
          15_000,
          250,
        );
        await show(since);
      } finally {
        setSiteBackendLink(fleet, "a", true);
      }
      if (table.changesSince(since).length > 0)
        throw new Error(`the table changed: ${JSON.stringify(table.current())}`);
      if (JSON.stringify(table.current()) !== JSON.stringify(before)) throw new Error("the table changed");
      return "site a voted down; the table did not change; the partition is healed";
    },
  );

  since = Date.now();
  await say.step("Every backend dies", `the fallback server ${SORRY} goes in`, async () => {
    for (const rs of BACKENDS) if (rs !== BACKENDS[1]) await b.kill(rs);
    await poll("fallback in", () => (only(SORRY)(table.current()) ? true : undefined), 15_000, 10);
    return `fallback in after ${((Date.now() - since) / 1000).toFixed(1)} s; the client now gets the sorry page`;
  });
  await show(since);

  since = Date.now();
  await say.step(
    "The backends come back",
    "all four back in after rise (2 checks), the fallback out",
    async () => {
      for (const rs of BACKENDS) await b.start(rs);
      await poll(
        "all back, fallback out",
        () => (only(...BACKENDS)(table.current()) ? true : undefined),
        15_000,
        10,
      );
      return `all back in ${((Date.now() - since) / 1000).toFixed(1)} s`;
    },
  );
  await show(since);
} catch (error) {
  say.fail(String((error as Error).message ?? error));
} finally {
  table.stop();
  for (const p of started.reverse()) await p.stop().catch(() => {});
  park.stop();
  say.end();
}
