// Runs INSIDE the guest (bundled by test/harness/guest.ts): the netlink driver against the real kernel,
// many checks in one boot, ONE driver (one socket) for all of them; raw observations go to results.json
// and test/e2e/ipvs-netlink.test.ts asserts on them. `--child NS SERVICE` is the same bundle started in a
// namespace (ip netns exec NS node ...): a socket belongs to the namespace of the process that opens it.
import { connect, type Socket } from "node:net";
import {
  type IpvsDriver,
  IpvsNetlinkError,
  mergeThresholds,
  openNetlinkDriver,
  parseSave,
  parseThresholds,
  plan,
  renderCommands,
  tableAfterOps,
} from "@lvsq/ipvs";
import { type IpvsTable, sortTable } from "@lvsq/protocol";
import {
  addDummyVip,
  addNetns,
  closeHttpServers,
  ipvsConnections,
  ipvsDestinationCounts,
  procHexEndpoint,
  run,
  runAsync,
  startHttpServers,
  waitFor,
  writeResult,
} from "../harness/in-guest.js";
import { coverageTable, dr, keys, svc, tcp } from "../harness/ipvs-tables.js";

const { env, argv } = process;

if (argv[2] === "--child") {
  // In namespace argv[3]: apply one service with weight argv[5] and print what this namespace's table reads.
  const driver = await openNetlinkDriver({ timeoutMs: 20_000 });
  const table: IpvsTable = {
    services: [svc(tcp(argv[4]!), "wrr", [dr("198.51.100.1:80", Number(argv[5]))])],
  };
  await driver.apply(plan(table, await driver.read(), keys(table)));
  console.log(JSON.stringify({ desired: table, read: await driver.read() }));
  driver.close();
  process.exit(0);
}

const results: Record<string, unknown> = {};
async function step(name: string, body: () => Promise<unknown>): Promise<void> {
  const started = performance.now();
  try {
    results[name] = await body();
  } catch (error) {
    results[name] = { error: String((error as Error).stack ?? error) };
  }
  console.log(`step ${name}: ${Math.round(performance.now() - started)} ms`);
  writeResult("results.json", results);
}

async function applyPlan(driver: IpvsDriver, desired: IpvsTable, owned = keys(desired)) {
  const ops = plan(desired, await driver.read(), owned);
  return { ops, result: await driver.apply(ops) };
}

const schedulers = (env.LVSQ_GUEST_SCHEDULERS ?? "").split(" ").filter(Boolean);
const kernel = await openNetlinkDriver({ timeoutMs: 20_000 });
const ipvsadmView = () => {
  const table = parseSave(run(["ipvsadm", "-S", "-n"]));
  mergeThresholds(table, parseThresholds(run(["ipvsadm", "-L", "-n", "--thresholds"])));
  return sortTable(table);
};
const only = (table: IpvsTable, owned: Set<string>) => ({
  services: table.services.filter((s) => owned.has(s.key)),
});

await step("coverage", async () => {
  run(["ipvsadm", "-A", "-t", "203.0.113.1:80", "-s", "rr"]); // an operator's service: not ours
  const desired = coverageTable(schedulers);
  const { ops, result } = await applyPlan(kernel, desired);
  const read = await kernel.read();
  return {
    info: kernel.info,
    schedulers,
    desired,
    ops: ops.length,
    warnings: result.warnings,
    read: only(read, keys(desired)),
    ipvsadmRead: only(ipvsadmView(), keys(desired)),
    foreignKept: read.services.some((s) => s.key === "tcp 203.0.113.1:80"),
    replan: plan(desired, read, keys(desired)),
  };
});

await step("idempotent", async () => {
  // A stale plan replayed: every add meets an identical entry (set in place), deletes of absent entries.
  const desired = coverageTable(schedulers);
  const replay = plan(desired, { services: [] }, keys(desired));
  const gone = plan(
    { services: [] },
    { services: [svc(tcp("192.0.2.99:80"), "rr", [dr("198.51.100.1:80")])] },
    new Set(["tcp 192.0.2.99:80"]),
  );
  const a = await kernel.apply(replay);
  const b = await kernel.apply(gone);
  return {
    replayed: replay.length,
    warnings: a.warnings.length,
    sample: a.warnings.slice(0, 2),
    goneWarnings: b.warnings,
    unchanged: plan(desired, await kernel.read(), keys(desired)).length,
  };
});

await step("forwardingEdit", async () => {
  const desired = coverageTable(schedulers);
  const target = desired.services.find((s) => s.key === "tcp 192.0.2.40:80");
  const rs = target?.realServers.find((r) => r.address === "198.51.100.6:80");
  if (rs === undefined) throw new Error("fixture changed");
  Object.assign(rs, { forwarding: "tunnel", tunnelType: "gre", tunnelChecksum: "nocsum", weight: 4 });
  const { ops } = await applyPlan(kernel, desired);
  const read = await kernel.read();
  return {
    ops: renderCommands(ops),
    after: read.services
      .find((s) => s.key === "tcp 192.0.2.40:80")
      ?.realServers.find((r) => r.address === "198.51.100.6:80"),
    replan: plan(desired, read, keys(desired)).length,
  };
});

await step("natCurlAndWeightEdit", async () => {
  addDummyVip("vip0", ["192.0.2.200/32"]);
  const servers = await startHttpServers(["127.0.0.2", "127.0.0.3"]);
  const nat = (w2: number, w3: number): IpvsTable => ({
    services: [
      svc(tcp("192.0.2.200:80"), "rr", [
        { address: `127.0.0.2:${servers[0]?.port}`, forwarding: "nat", weight: w2 },
        { address: `127.0.0.3:${servers[1]?.port}`, forwarding: "nat", weight: w3 },
      ]),
    ],
  });
  await applyPlan(kernel, nat(1, 1));
  const bodies: string[] = [];
  for (let i = 0; i < 4; i++)
    bodies.push((await runAsync(["curl", "-s", "--max-time", "5", "http://192.0.2.200/"])).trim());
  const socket: Socket = connect({ host: "192.0.2.200", port: 80 });
  await new Promise<void>((ready, fail) => socket.once("connect", ready).once("error", fail));
  const active = () =>
    ipvsDestinationCounts().filter((r) => r.service === `TCP ${procHexEndpoint("192.0.2.200", 80)}`);
  const before = await waitFor("an active connection", () => {
    const rows = active();
    return rows.some((r) => r.active === 1) ? rows : undefined;
  });
  const connsBefore = ipvsConnections();
  const edit = await applyPlan(kernel, nat(5, 0));
  const after = active();
  const connsAfter = ipvsConnections();
  const driverCounts = Object.fromEntries((await kernel.connections?.())?.get("tcp 192.0.2.200:80") ?? []);
  const answer = await new Promise<string>((done, fail) => {
    let text = "";
    socket.on("data", (c) => {
      text += c.toString();
    });
    socket.once("end", () => done(text));
    socket.once("error", fail);
    socket.write("GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n");
  });
  socket.destroy();
  const read = await kernel.read();
  await closeHttpServers(servers);
  return {
    bodies,
    serverPorts: servers.map((s) => `${s.host}:${s.port}`),
    editOps: edit.ops.map((op) => op.type),
    before,
    after,
    connsBefore,
    connsAfter,
    answerBody: answer.split("\r\n\r\n")[1]?.trim(),
    heldDest: before.find((r) => r.active === 1)?.dest,
    driverCounts,
    weights: read.services.find((s) => s.key === "tcp 192.0.2.200:80")?.realServers.map((r) => r.weight),
  };
});

await step("failingApply", async () => {
  const desired: IpvsTable = {
    services: [
      svc(tcp("192.0.2.1:80"), "rr", [dr("198.51.100.1:80", 8)]),
      svc(tcp("192.0.2.66:80"), "nosuch", [dr("198.51.100.6:80")]),
      svc(tcp("192.0.2.67:80"), "rr", [dr("198.51.100.7:80")]),
    ],
  };
  await kernel.apply(plan({ services: [desired.services[0]!] }, await kernel.read(), keys(desired)));
  desired.services[0]!.realServers[0]!.weight = 9;
  const before = await kernel.read();
  const ops = plan(desired, before, keys(desired));
  const error = await kernel.apply(ops).then(
    () => undefined,
    (e: unknown) => e,
  );
  const reread = await kernel.read();
  if (!(error instanceof IpvsNetlinkError)) return { unexpected: String(error) };
  return {
    ops: renderCommands(ops),
    name: error.name,
    code: error.code,
    exact: error.exact,
    message: error.message,
    failures: error.failures.map((f) => ({ code: f.code, message: f.message })),
    notApplied: renderCommands(error.notApplied),
    computedEqualsReread:
      JSON.stringify(only(tableAfterOps(before, ops, error.notApplied), keys(desired))) ===
      JSON.stringify(only(reread, keys(desired))),
    reread: only(reread, keys(desired)),
    replan: renderCommands(plan(desired, reread, keys(desired))),
  };
});

await step("namespaces", async () => {
  addNetns("dirA");
  addNetns("dirB");
  const refused = await openNetlinkDriver({ netns: "dirA" }).then(
    () => "opened",
    (e: Error) => `${e.name}: ${e.message}`,
  );
  const child = async (ns: string, vip: string, weight: number) => {
    const out = await runAsync(
      ["ip", "netns", "exec", ns, "node", argv[1]!, "--child", ns, vip, String(weight)],
      60_000,
    );
    return JSON.parse(out.trim().split("\n").pop()!) as { desired: IpvsTable; read: IpvsTable };
  };
  const [a, b] = await Promise.all([child("dirA", "192.0.2.1:80", 3), child("dirB", "192.0.2.2:80", 5)]);
  return { refused, a, b, rootKeys: [...keys(await kernel.read())] };
});

results.dropped = kernel.dropped();
kernel.close();
writeResult("results.json", results);
console.log("scenario done");
