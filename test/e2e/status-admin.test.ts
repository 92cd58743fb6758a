import { writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { buckets, kvKeys } from "@lvsq/protocol";
import type { FleetSnapshot } from "@lvsq/status";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLvsq, tempConfig, waitFor } from "../harness/agents.js";
import {
  dryRunCommands,
  explainRs,
  leaderSeenBy,
  rsArg,
  startDirector,
  waitForCommand,
} from "./status-fleet.js";
import { FLEET, type PairFleet, realServer, startPairFleet, VIP } from "./status-pair-fleet.js";

// `lvsq admin` and `lvsq explain` against real probes and a real director pair (status-pair-fleet.ts): an
// override reaches both kernels, shows in status and explain, and survives restarts; and status flags a pair
// member whose table differs.

describe("lvsq admin and explain against real probes and a real director pair", () => {
  let fleet: PairFleet;
  const d = (id: string) => fleet.d(id);

  beforeAll(async () => {
    fleet = await startPairFleet();
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  });

  it("admin drain is applied by the real directors, shows in status and explain, and survives restarts", async () => {
    const drainA = new RegExp(`^ipvsadm -(a|e) -t ${VIP} ${rsArg(fleet.a.address)} -m -w 0$`);
    const marks = new Map(["d1", "d2"].map((id) => [id, dryRunCommands(d(id)).length]));
    const run = startLvsq(
      [
        "admin",
        "drain",
        "web",
        fleet.a.address,
        "--reason",
        "kernel upgrade",
        "--deadline",
        "30m",
        "--config",
        fleet.config,
      ],
      { SUDO_USER: "alice" },
    );
    expect((await run.exited).code, run.lines.join("\n")).toBe(0);
    expect(run.lines.join("\n")).toContain(
      `written to KV lvsq_e2e_admin key ${kvKeys.admin("web", fleet.a.address)}`,
    );
    const entry = await (await fleet.bus.kv(buckets.admin("e2e"))).get(kvKeys.admin("web", fleet.a.address));
    expect(entry?.value).toMatchObject({
      v: 1,
      service: "web",
      rs: fleet.a.address,
      action: "drain",
      reason: "kernel upgrade",
    });
    const record = entry!.value as { author: string; at: number; deadline: number };
    expect(record.author).toMatch(/^alice@/);
    expect(record.deadline - record.at).toBe(30 * 60_000);

    // Both kernels (dry-run) get weight 0; the leader explains it by the admin rule.
    for (const id of ["d1", "d2"]) await waitForCommand(d(id), drainA, marks.get(id));
    const explained = await explainRs(fleet.config, "d1", "web", fleet.a.address);
    expect(explained.rs).toMatchObject({
      in: true,
      weight: 0,
      rule: "admin-drain",
      admin: { action: "drain" },
    });
    const rsA = realServer(await fleet.statusJson(), fleet.a.address);
    expect(rsA).toMatchObject({
      state: "draining",
      weight: 0,
      admin: { action: "drain", reason: "kernel upgrade" },
    });
    expect(rsA.admin!.author).toMatch(/^alice@/);

    // Restart the leader: d2 takes over; the new d1 process starts from an empty table and follows.
    expect((await d("d1").stop("SIGTERM")).code).toBe(0);
    await waitFor("d2 leads", () => leaderSeenBy(d("d2")) === "d2");
    fleet.directors.set("d1", await startDirector(fleet.config, "d1"));
    await waitFor("the new d1 follows d2", () => leaderSeenBy(d("d1")) === "d2");
    await waitForCommand(d("d1"), drainA);
    // Then restart the other one: the restarted d1 leads from its own engine, which re-read the admin KV.
    expect((await d("d2").stop("SIGTERM")).code).toBe(0);
    await waitFor("the new d1 leads", () => leaderSeenBy(d("d1")) === "d1");
    fleet.directors.set("d2", await startDirector(fleet.config, "d2"));
    await waitFor("the new d2 follows d1", () => leaderSeenBy(d("d2")) === "d1");
    await waitForCommand(d("d2"), drainA);
    const after = await explainRs(fleet.config, "d1", "web", fleet.a.address);
    expect(after.decidedBy).toMatchObject({ director: "d1", leader: true });
    expect(after.rs).toMatchObject({ in: true, weight: 0, rule: "admin-drain" });
    expect(dryRunCommands(d("d1")).some((c) => c.includes(fleet.a.address) && !drainA.test(c))).toBe(false);
    expect(realServer(await fleet.statusJson(), fleet.a.address)).toMatchObject({
      state: "draining",
      weight: 0,
    });

    // enable ends the override: both directors put a back at its configured weight.
    const back = new Map(["d1", "d2"].map((id) => [id, dryRunCommands(d(id)).length]));
    const enable = startLvsq(["admin", "enable", "web", fleet.a.address, "--config", fleet.config]);
    expect((await enable.exited).code).toBe(0);
    expect(enable.lines.join("\n")).toContain("previous: drain by alice@");
    for (const id of ["d1", "d2"])
      await waitForCommand(
        d(id),
        new RegExp(`^ipvsadm -e -t ${VIP} ${rsArg(fleet.a.address)} -m -w 1$`),
        back.get(id),
      );
    expect((await explainRs(fleet.config, "d2", "web", fleet.a.address)).rs).toMatchObject({
      weight: 1,
      rule: "quorum-up",
    });

    const unknown = startLvsq(["admin", "disable", "web", "10.9.9.9:80", "--config", fleet.config]);
    expect((await unknown.exited).code).toBe(2);
    expect(unknown.lines.join("\n")).toContain("is not in service web");
    const badDeadline = startLvsq([
      "admin",
      "disable",
      "web",
      fleet.a.address,
      "--deadline",
      "5m",
      "--config",
      fleet.config,
    ]);
    expect((await badDeadline.exited).code).toBe(2);
  }, 50_000);

  it("flags a pair member whose kernel table differs from the pair's", async () => {
    // d3 (not in status's config) joins pair edge with a config that also owns service `extra`, which its
    // kernel already has: the leader writes no record for `extra`, so d3 keeps it and its table differs.
    // No IPVS here: d3's `ipvsadm -S -n` is a stand-in that prints that kernel table (dry-run only reads).
    const dir = dirname(fleet.config);
    const ipvsadm = join(dir, "ipvsadm-with-extra");
    writeFileSync(ipvsadm, `#!/bin/sh\n[ "$1" = -S ] && echo '-A -t 192.0.2.11:80 -s wlc'\nexit 0\n`, {
      mode: 0o755,
    });
    const extra = `  extra:\n    vip: 192.0.2.11:80\n    forwarding: nat\n    realServers: [{ address: ${fleet.a.address} }]\ndirector: { ipvsadm: ${ipvsadm}, driver: ipvsadm }\n`;
    const d3 = await startDirector(tempConfig(FLEET(fleet.nats.url, fleet.a, fleet.b, extra)), "d3");
    try {
      await waitFor("d3 follows d1", () => leaderSeenBy(d3) === "d1");
      // Its commands start with the stand-in's path.
      await waitForCommand(d3, new RegExp(`ipvsadm-with-extra -a -t ${VIP} ${rsArg(fleet.b.address)} `));
      expect(dryRunCommands(d3).some((c) => c.includes("192.0.2.11"))).toBe(false);
      // d3 is not in status's config, so a one-shot may print before it is heard: watch until all are.
      const ndjson = startLvsq(["status", "--config", fleet.config, "--watch", "--json"]);
      const table = startLvsq(["status", "--config", fleet.config, "--watch"]);
      try {
        const snapshot = await waitFor("a snapshot where all three directors report their role", () =>
          ndjson.lines
            .filter((line) => line.startsWith('{"v":1,'))
            .map((line) => JSON.parse(line) as FleetSnapshot)
            .findLast(
              (x) =>
                x.directors.length === 3 &&
                x.directors.every(
                  (y) => y.freshness === "fresh" && (y.role === "leader" || y.role === "follower"),
                ),
            ),
        );
        expect(snapshot.directors.map((x) => [x.id, x.configured, x.role, x.digestMismatch])).toEqual([
          ["d1", true, "leader", false],
          ["d2", true, "follower", false],
          ["d3", false, "follower", true],
        ]);
        expect(snapshot.summary.directors.digestMismatch).toBe(1);
        await waitFor("a frame flagging d3", () =>
          /\n\s+d3 .*TABLE DIFFERS FROM PAIR/.test(table.lines.join("\n")),
        );
      } finally {
        await Promise.all([ndjson.stop(), table.stop()]);
      }
    } finally {
      await d3.stop("SIGTERM");
    }
  }, 30_000);

  it("a one-shot command whose first NATS servers hang goes on to the next, and exits when done", async () => {
    // Two listeners that accept and never answer (a paused node, a black-holed path) before the real server:
    // the dial picks servers in random order, so some runs meet both hung ones first.
    const hung = await Promise.all([0, 1].map(() => hungListener()));
    const urls = [...hung.map((h) => `nats://127.0.0.1:${h.port}`), fleet.nats.url];
    const config = tempConfig(FLEET(urls.join(", "), fleet.a, fleet.b));
    try {
      for (const action of ["disable", "enable", "disable", "enable"]) {
        const started = Date.now();
        const run = startLvsq(["admin", action, "web", fleet.b.address, "--config", config]);
        const { code } = await run.exited;
        expect(code, run.lines.join("\n")).toBe(0);
        expect(run.lines.join("\n")).toContain(`${action} web ${fleet.b.address}: written to KV`);
        // Two hung servers at 2 s each, then the real one, then exit (bounded, generous for a loaded host).
        expect(Date.now() - started).toBeLessThan(12_000);
      }
      const status = startLvsq(["status", "--config", config, "--json", "--wait", "5s"]);
      expect((await status.exited).code, status.lines.join("\n")).toBe(0);
    } finally {
      for (const h of hung) h.close();
    }
  }, 90_000);
});

/** A TCP listener that accepts connections and never writes a byte. */
async function hungListener(): Promise<{ port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
