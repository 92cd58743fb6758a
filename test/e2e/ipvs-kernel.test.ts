import type { IpvsOp } from "@lvsq/ipvs";
import { type IpvsTable, sortTable } from "@lvsq/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { type GuestRunResult, guestIpvsSchedulers, resultJson, runInGuest } from "../harness/guest.js";

// One guest boot for the whole file: the guest scenario (ipvs-kernel.guest.ts) runs every kernel check
// and writes raw observations; each test below asserts on one of them.
type Results = Record<string, Record<string, unknown> & { error?: string }>;
let run: GuestRunResult;
let results: Results;

function result<T = Record<string, unknown>>(name: string): T {
  const value = results[name];
  if (value === undefined)
    throw new Error(`guest step ${name} did not run; output:\n${run.stdout.slice(-3000)}`);
  if (value.error !== undefined) throw new Error(`guest step ${name} failed:\n${value.error}`);
  return value as T;
}

beforeAll(async () => {
  run = await runInGuest({
    nodeModule: new URL("./ipvs-kernel.guest.ts", import.meta.url).pathname,
    timeoutMs: 110_000,
  });
  results = resultJson<Results>(run, "results.json");
}, 130_000);

describe("ipvs driver on a real kernel (in the guest)", () => {
  it("boots, loads every IPVS module and finishes the scenario", () => {
    expect(run.moduleFailures).toEqual([]);
    expect(run.exitCode, run.stdout.slice(-3000)).toBe(0);
    expect(run.durationMs).toBeLessThan(90_000);
  });

  it("applies a table covering every scheduler, DR/NAT/TUN, persistence, fwmark, UDP, SCTP and IPv6; read() returns it exactly", async () => {
    const r = result<{ schedulers: string[]; desired: IpvsTable; read: IpvsTable; warnings: string[] }>(
      "coverage",
    );
    expect(r.schedulers).toEqual(await guestIpvsSchedulers());
    expect(r.schedulers.length).toBeGreaterThanOrEqual(10);
    expect(r.warnings).toEqual([]);
    expect(r.read).toEqual(sortTable(r.desired));
    const used = new Set(r.read.services.map((s) => s.scheduler));
    for (const scheduler of r.schedulers) expect(used).toContain(scheduler);
    const kinds = new Set(r.read.services.flatMap((s) => s.realServers.map((rs) => rs.forwarding)));
    expect([...kinds].sort()).toEqual(["dr", "nat", "tunnel"]);
    const keys = r.read.services.map((s) => s.key);
    expect(keys).toEqual(
      expect.arrayContaining([
        "fwmark 7",
        "fwmark6 7",
        "udp 192.0.2.41:53",
        "sctp 192.0.2.43:3868",
        "tcp [2001:db8::1]:443",
        "sctp [2001:db8::1]:3868",
      ]),
    );
  });

  it("plan against the re-read table is empty, and services it does not own are left alone", () => {
    const r = result<{ replan: IpvsOp[]; foreignKept: boolean }>("coverage");
    expect(r.replan).toEqual([]);
    expect(r.foreignKept).toBe(true);
  });

  it("kernel defaults omitted or spelled differently in the desired table still plan to nothing", () => {
    const r = result<{ commands: string[] }>("nonCanonical");
    expect(r.commands).toEqual([]);
  });

  it("replayed adds and deletes of absent entries are idempotent successes", () => {
    const r = result<{ replayed: number; warnings: number; goneWarnings: string[] }>("idempotent");
    expect(r.replayed).toBeGreaterThan(20);
    expect(r.warnings).toBe(r.replayed);
    expect(r.goneWarnings).toEqual(["Service not defined", "No such service"]);
  });

  it("changes forwarding method in place with -e", () => {
    const r = result<{ ops: string[]; after: unknown; replan: number }>("forwardingEdit");
    expect(r.ops).toEqual([
      "ipvsadm -e -t 192.0.2.40:80 -r 198.51.100.6:80 -i -w 4 --tun-type gre --tun-nocsum",
    ]);
    expect(r.after).toEqual({
      address: "198.51.100.6:80",
      forwarding: "tunnel",
      weight: 4,
      tunnelType: "gre",
      tunnelChecksum: "nocsum",
    });
    expect(r.replan).toBe(0);
  });

  it("curl through a NAT VIP on a dummy interface reaches both real servers on 127.0.0.2 and 127.0.0.3", () => {
    const r = result<{ bodies: string[]; serverPorts: string[] }>("natCurlAndWeightEdit");
    expect(new Set(r.bodies)).toEqual(new Set(r.serverPorts));
  });

  it("a weight edit keeps the real server entry and its established connection", () => {
    const r = result<{
      editOps: string[];
      before: { dest: string; active: number }[];
      after: { dest: string; active: number }[];
      connsBefore: string[];
      connsAfter: string[];
      answerBody: string;
      heldDest: string;
      weights: number[];
      driverCounts: Record<string, number>;
      serverPorts: string[];
    }>("natCurlAndWeightEdit");
    // driver.connections() (what a drain waits on) counts the held connection on its real server
    expect(Object.values(r.driverCounts).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(Object.keys(r.driverCounts).sort()).toEqual([...r.serverPorts].sort());
    expect(r.editOps).toEqual(["edit-server", "edit-server"]);
    expect(r.weights).toEqual([5, 0]);
    expect(r.after.find((d) => d.dest === r.heldDest)?.active).toBe(1);
    // /proc/net/ip_vs_conn rows without the Expires column: protocol, client, VIP, real server, state.
    const established = (rows: string[]) =>
      rows.filter((c) => c.includes("ESTABLISHED")).map((c) => c.trim().split(/\s+/).slice(0, 8).join(" "));
    expect(established(r.connsAfter)).toEqual(established(r.connsBefore));
    expect(established(r.connsAfter)).toHaveLength(1);
    // The held connection still works after the edit, to the same real server (even the one now at weight 0).
    const [host] = r.answerBody.split(":");
    expect(r.heldDest.startsWith(host === "127.0.0.2" ? "7F000002" : "7F000003")).toBe(true);
  });

  it("two network namespaces hold two independent tables", () => {
    const r = result<{
      tableA: IpvsTable;
      tableB: IpvsTable;
      readA: IpvsTable;
      readB: IpvsTable;
      rootKeys: string[];
    }>("namespaces");
    expect(r.readA).toEqual(sortTable(r.tableA));
    expect(r.readB).toEqual(sortTable(r.tableB));
    expect(r.rootKeys).not.toContain("tcp 192.0.2.2:80");
  });

  it("a failing apply (unknown scheduler) raises a clear IpvsadmError; the other ops take and the re-read table shows it", () => {
    const r = result<{
      failure: Record<string, unknown>;
      reread: IpvsTable;
      replan: string[];
    }>("failingApply");
    expect(r.failure).toMatchObject({
      name: "IpvsadmError",
      code: "ipvsadm_failed",
      argv: ["ip", "netns", "exec", "dirA", "ipvsadm", "-R"],
      stderr: expect.stringContaining("Scheduler or persistence engine not found"),
      notApplied: [
        "ipvsadm -A -t 192.0.2.66:80 -s nosuch",
        "ipvsadm -a -t 192.0.2.66:80 -r 198.51.100.6:80 -g -w 1",
      ],
    });
    expect(r.failure.message).toMatch(
      /ipvsadm -R failed.*2 op\(s\) did not take: -A -t 192\.0\.2\.66:80 -s nosuch/,
    );
    expect(r.failure.observedKeys).toEqual(["tcp 192.0.2.1:80", "tcp 192.0.2.67:80"]);
    const weight = r.reread.services.find((s) => s.key === "tcp 192.0.2.1:80")?.realServers[0]?.weight;
    expect(weight).toBe(8);
    expect(r.replan).toEqual(r.failure.notApplied);
  });

  it("dry-run renders the plan as ipvsadm command lines", () => {
    expect(results.dryRun).toEqual([
      "ipvsadm -A -t 192.0.2.1:80 -s wrr",
      "ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.1:80 -g -w 2",
    ]);
  });
});
