import type { IpvsOp } from "@lvsq/ipvs";
import { type IpvsTable, sortTable } from "@lvsq/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import { type GuestRunResult, guestIpvsSchedulers, resultJson, runInGuest } from "../harness/guest.js";

// One guest boot for the whole file: ipvs-netlink.guest.ts runs every check through ONE netlink driver
// (one socket); each test below asserts on one of its observations. test/e2e/ipvs-kernel.test.ts proves the
// ipvsadm driver the same way.
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
    nodeModule: new URL("./ipvs-netlink.guest.ts", import.meta.url).pathname,
    timeoutMs: 110_000,
  });
  results = resultJson<Results>(run, "results.json");
}, 130_000);

describe("netlink driver on a real kernel (in the guest)", () => {
  it("boots, opens one socket, resolves the IPVS family and reads GET_INFO", () => {
    expect(run.moduleFailures).toEqual([]);
    expect(run.exitCode, run.stdout.slice(-3000)).toBe(0);
    const r = result<{ info: { version: string; connTabSize: number; familyId: number } }>("coverage");
    expect(r.info.version).toBe("1.2.1");
    expect(r.info.connTabSize).toBeGreaterThan(0);
    expect(r.info.familyId).toBeGreaterThanOrEqual(16);
    expect(results.dropped).toBe(0);
  });

  it("applies every scheduler, DR/NAT/TUN, persistence, fwmark, UDP, SCTP, IPv6 and thresholds; read() and ipvsadm -S both return it exactly", async () => {
    const r = result<{
      schedulers: string[];
      desired: IpvsTable;
      read: IpvsTable;
      ipvsadmRead: IpvsTable;
      warnings: string[];
      ops: number;
    }>("coverage");
    expect(r.schedulers).toEqual(await guestIpvsSchedulers());
    expect(r.ops).toBeGreaterThan(40);
    expect(r.warnings).toEqual([]);
    expect(r.read).toEqual(sortTable(r.desired));
    // What the netlink driver wrote is what ipvsadm reads: the two drivers leave identical kernel state.
    expect(r.ipvsadmRead).toEqual(r.read);
  });

  it("plan against the re-read table is empty, and a service it does not own is left alone", () => {
    const r = result<{ replan: IpvsOp[]; foreignKept: boolean }>("coverage");
    expect(r.replan).toEqual([]);
    expect(r.foreignKept).toBe(true);
  });

  it("a replayed stale plan is idempotent: adds of existing entries are set in place, deletes of absent ones took", () => {
    const r = result<{
      replayed: number;
      warnings: number;
      sample: string[];
      goneWarnings: string[];
      unchanged: number;
    }>("idempotent");
    expect(r.replayed).toBeGreaterThan(20);
    expect(r.warnings).toBe(r.replayed);
    expect(r.sample[0]).toMatch(
      /: add service: Service already exists \(EEXIST; sent as edit-service instead\)/,
    );
    expect(r.goneWarnings).toEqual([
      "tcp 192.0.2.99:80 → 198.51.100.1:80: delete real server: Service not defined (ESRCH; already gone) [ipvsadm -d -t 192.0.2.99:80 -r 198.51.100.1:80]",
      "tcp 192.0.2.99:80: delete service: No such service (ESRCH; already gone) [ipvsadm -D -t 192.0.2.99:80]",
    ]);
    expect(r.unchanged).toBe(0);
  });

  it("changes the forwarding method in place (SET_DEST)", () => {
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

  it("a NAT VIP set over netlink serves curl from both real servers; a weight edit keeps the held connection, which connections() counts", () => {
    const r = result<{
      bodies: string[];
      serverPorts: string[];
      editOps: string[];
      after: { dest: string; active: number }[];
      connsBefore: string[];
      connsAfter: string[];
      answerBody: string;
      heldDest: string;
      weights: number[];
      driverCounts: Record<string, number>;
    }>("natCurlAndWeightEdit");
    expect(new Set(r.bodies)).toEqual(new Set(r.serverPorts));
    expect(Object.values(r.driverCounts).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(Object.keys(r.driverCounts).sort()).toEqual([...r.serverPorts].sort());
    expect(r.editOps).toEqual(["edit-server", "edit-server"]);
    expect(r.weights).toEqual([5, 0]);
    expect(r.after.find((d) => d.dest === r.heldDest)?.active).toBe(1);
    const established = (rows: string[]) =>
      rows.filter((c) => c.includes("ESTABLISHED")).map((c) => c.trim().split(/\s+/).slice(0, 8).join(" "));
    expect(established(r.connsAfter)).toEqual(established(r.connsBefore));
    expect(established(r.connsAfter)).toHaveLength(1);
    const [host] = r.answerBody.split(":");
    expect(r.heldDest.startsWith(host === "127.0.0.2" ? "7F000002" : "7F000003")).toBe(true);
  });

  it("each op's error is its own: the unknown scheduler's two ops fail by name, the rest of the batch took, known without a re-read", () => {
    const r = result<{
      name: string;
      code: string;
      exact: boolean;
      message: string;
      failures: { code: string; message: string }[];
      notApplied: string[];
      computedEqualsReread: boolean;
      reread: IpvsTable;
      replan: string[];
    }>("failingApply");
    expect(r).toMatchObject({ name: "IpvsNetlinkError", code: "ipvs_netlink_failed", exact: true });
    expect(r.notApplied).toEqual([
      "ipvsadm -A -t 192.0.2.66:80 -s nosuch",
      "ipvsadm -a -t 192.0.2.66:80 -r 198.51.100.6:80 -g -w 1",
    ]);
    expect(r.failures).toEqual([
      {
        code: "ENOENT",
        message:
          "tcp 192.0.2.66:80: add service: Scheduler or persistence engine not found (is kernel module ip_vs_nosuch available?) (ENOENT) [ipvsadm -A -t 192.0.2.66:80 -s nosuch]",
      },
      {
        code: "ESRCH",
        message:
          "tcp 192.0.2.66:80 → 198.51.100.6:80: add real server: Service not defined (ESRCH) [ipvsadm -a -t 192.0.2.66:80 -r 198.51.100.6:80 -g -w 1]",
      },
    ]);
    expect(r.message).toMatch(
      /^netlink apply: 2 of 5 op\(s\) did not take: tcp 192\.0\.2\.66:80: add service/,
    );
    expect(r.reread.services.map((s) => s.key)).toEqual(["tcp 192.0.2.1:80", "tcp 192.0.2.67:80"]);
    expect(r.reread.services[0]?.realServers[0]?.weight).toBe(9);
    expect(r.computedEqualsReread).toBe(true);
    expect(r.replan).toEqual(r.notApplied);
  });

  it("refuses a namespace it cannot enter; a director process in each namespace has its own table", () => {
    const r = result<{
      refused: string;
      a: { desired: IpvsTable; read: IpvsTable };
      b: { desired: IpvsTable; read: IpvsTable };
      rootKeys: string[];
    }>("namespaces");
    expect(r.refused).toMatch(
      /^IpvsUnavailableError: the netlink driver cannot open its socket in network namespace dirA: run the director inside it/,
    );
    expect(r.a.read).toEqual(sortTable(r.a.desired));
    expect(r.b.read).toEqual(sortTable(r.b.desired));
    expect(r.rootKeys).not.toContain("tcp 192.0.2.2:80");
  });
});
