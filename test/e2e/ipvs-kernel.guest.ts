// Runs INSIDE the guest (bundled by test/harness/guest.ts): many kernel checks in one boot, raw
// observations written to results.json; test/e2e/ipvs-kernel.test.ts asserts on them on the host.
import { connect, type Socket } from "node:net";
import { createIpvsadmDriver, type IpvsDriver, IpvsadmError, plan, renderCommands } from "@lvsq/ipvs";
import type { IpvsTable } from "@lvsq/protocol";
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

const { env } = process;
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
  const result = await driver.apply(ops);
  return { ops, result };
}

function errorSummary(error: unknown) {
  if (!(error instanceof IpvsadmError)) return { unexpected: String(error) };
  return {
    name: error.name,
    code: error.code,
    message: error.message,
    argv: error.argv,
    exitCode: error.exitCode,
    stderr: error.stderr,
    notApplied: renderCommands(error.notApplied, "ipvsadm"),
    observedKeys: error.observed?.services.map((s) => s.key),
  };
}

const schedulers = (env.LVSQ_GUEST_SCHEDULERS ?? "").split(" ").filter(Boolean);
const kernel = createIpvsadmDriver({ path: env.LVSQ_IPVSADM ?? "ipvsadm", timeoutMs: 20_000 });

await step("coverage", async () => {
  run(["ipvsadm", "-A", "-t", "203.0.113.1:80", "-s", "rr"]); // an operator's service: not ours
  const desired = coverageTable(schedulers);
  const { ops, result } = await applyPlan(kernel, desired);
  const read = await kernel.read();
  return {
    schedulers,
    desired,
    ops: ops.length,
    warnings: result.warnings,
    read: { services: read.services.filter((s) => keys(desired).has(s.key)) },
    foreignKept: read.services.some((s) => s.key === "tcp 203.0.113.1:80"),
    replan: plan(desired, read, keys(desired)),
    save: run(["ipvsadm", "-S", "-n"]),
  };
});

await step("nonCanonical", async () => {
  // The same table with kernel defaults omitted or spelled differently plans to nothing.
  const desired = coverageTable(schedulers);
  for (const s of desired.services) {
    if (s.schedFlags?.[0]?.endsWith("fallback")) s.schedFlags = ["flag-2", "flag-1"];
    for (const rs of s.realServers) if (rs.tunnelType === "ipip") delete rs.tunnelType;
  }
  const ops = plan(desired, await kernel.read(), keys(desired));
  return { commands: renderCommands(ops) };
});

await step("idempotent", async () => {
  // A stale plan replayed: adds of identical entries and deletes of absent ones are successes.
  const desired = coverageTable(schedulers);
  const replay = plan(desired, { services: [] }, keys(desired));
  const gone = plan(
    { services: [] },
    { services: [svc(tcp("192.0.2.99:80"), "rr", [dr("198.51.100.1:80")])] },
    new Set(["tcp 192.0.2.99:80"]),
  );
  const a = await kernel.apply(replay);
  const b = await kernel.apply(gone);
  return { replayed: replay.length, warnings: a.warnings.length, goneWarnings: b.warnings };
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

  // Hold one connection open through the VIP, then edit both weights in place.
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
  // The driver's own view of connections (what a drain waits on), while the one connection is held.
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

await step("namespaces", async () => {
  addNetns("dirA");
  addNetns("dirB");
  const a = createIpvsadmDriver({ netns: "dirA", timeoutMs: 20_000 });
  const b = createIpvsadmDriver({ netns: "dirB", timeoutMs: 20_000 });
  const tableA = { services: [svc(tcp("192.0.2.1:80"), "rr", [dr("198.51.100.1:80", 3)])] };
  const tableB = { services: [svc(tcp("192.0.2.2:80"), "wrr", [dr("198.51.100.2:80", 5)])] };
  await applyPlan(a, tableA);
  await applyPlan(b, tableB);
  return {
    tableA,
    tableB,
    readA: await a.read(),
    readB: await b.read(),
    rootKeys: [...keys(await kernel.read())],
  };
});

await step("failingApply", async () => {
  const a = createIpvsadmDriver({ netns: "dirA", timeoutMs: 20_000 });
  const desired: IpvsTable = {
    services: [
      svc(tcp("192.0.2.1:80"), "rr", [dr("198.51.100.1:80", 8)]),
      svc(tcp("192.0.2.66:80"), "nosuch", [dr("198.51.100.6:80")]),
      svc(tcp("192.0.2.67:80"), "rr", [dr("198.51.100.7:80")]),
    ],
  };
  const ops = plan(desired, await a.read(), keys(desired));
  const error = await a.apply(ops).then(
    () => undefined,
    (e: unknown) => e,
  );
  const reread = await a.read();
  return {
    ops: renderCommands(ops),
    failure: errorSummary(error),
    reread,
    replan: renderCommands(plan(desired, reread, keys(desired))),
  };
});

await step("dryRun", async () => {
  const desired = { services: [svc(tcp("192.0.2.1:80"), "wrr", [dr("198.51.100.1:80", 2)])] };
  return renderCommands(plan(desired, { services: [] }, keys(desired)), "ipvsadm");
});

console.log("scenario done");
