import { readFileSync, writeFileSync } from "node:fs";
import { connectNatsBus } from "@lvsq/bus";
import { type VoteBatch, VoteBatch as VoteBatchSchema, ProbeHeartbeat } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Backend, rssMb, startBackend, startLvsq, tempConfig, waitFor } from "../harness/agents.js";
import { type NatsServerHandle, startNatsServer } from "../harness/nats.js";

const quiet = createLogger({ level: "silent" });

describe("lvsq probe against a real nats-server", () => {
  let nats: NatsServerHandle;
  let a: Backend;
  let b: Backend;
  let config: string;

  beforeAll(async () => {
    nats = await startNatsServer();
    a = await startBackend();
    b = await startBackend();
    config = tempConfig(`cluster: e2e
nats: { servers: [${nats.url}] }
defaults: { check: { type: http, path: /, interval: 300ms, timeout: 200ms, rise: 2, fall: 2 } }
sites: [s1]
probes: [{ id: p1, site: s1 }]
services:
  web:
    vip: 192.0.2.10:80
    # loopback backends share one address: NAT keeps their ports apart (dr would make them one)
    forwarding: nat
    realServers: [{ address: ${a.address} }, { address: ${b.address} }]
`);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await nats?.dispose();
  });

  it("publishes votes with increasing seq, flips at once, survives a 10 s NATS outage, stops on SIGTERM", async () => {
    const listener = await connectNatsBus({ servers: [nats.url], name: "test-listener", logger: quiet });
    const batches: { at: number; batch: VoteBatch }[] = [];
    let heartbeats = 0;
    listener.subscribe(
      "lvsq.e2e.votes.>",
      VoteBatchSchema,
      (batch) => void batches.push({ at: Date.now(), batch }),
    );
    listener.subscribe("lvsq.e2e.status.probe.p1", ProbeHeartbeat, () => void heartbeats++);
    const probe = startLvsq(["probe", "--config", config, "--id", "p1"]);
    try {
      const stateOf = (batch: VoteBatch, rs: string) => batch.votes.find((v) => v.rs === rs)?.state;
      await waitFor("both real servers voted up", () =>
        batches.some(({ batch }) => stateOf(batch, a.address) === "up" && stateOf(batch, b.address) === "up"),
      );
      const seqs = batches.map(({ batch }) => batch.seq);
      expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!)).toBe(true);
      expect(batches[0]!.batch).toMatchObject({
        v: 1,
        cluster: "e2e",
        probe: "p1",
        site: "s1",
        service: "web",
        intervalMs: 300,
      });

      // rise/fall: one failed check does not flip; `fall` (2) in a row does, published before the next round.
      const failedAt = Date.now();
      b.setStatus(503);
      const flip = await waitFor("b voted down", () =>
        batches.find(({ at, batch }) => at > failedAt && stateOf(batch, b.address) === "down"),
      );
      const batchesBetween = batches.filter(({ at }) => at > failedAt && at < flip.at);
      expect(batchesBetween.every(({ batch }) => stateOf(batch, b.address) === "up")).toBe(true);
      expect(flip.at - failedAt).toBeLessThan(2 * 300 + 200 + 1000);
      expect(flip.batch.votes.find((v) => v.rs === b.address)?.reason).toContain("503");
      await waitFor("a heartbeat", () => heartbeats > 0);

      // NATS down for 10 s: the probe keeps checking, buffers nothing, republishes on reconnect.
      const rssBefore = await rssMb(probe.child.pid!);
      await nats.kill();
      b.setStatus(200);
      await new Promise((r) => setTimeout(r, 10_000)); // the outage itself is the scenario: 10 s of no NATS
      await nats.restart();
      const restartedAt = Date.now();
      const healed = await waitFor(
        "republished after reconnect with b back up",
        () => batches.find(({ at, batch }) => at > restartedAt && stateOf(batch, b.address) === "up"),
        15_000,
      );
      expect(healed.batch.seq).toBeGreaterThan(flip.batch.seq);
      const rssAfter = await rssMb(probe.child.pid!);
      expect(rssAfter - rssBefore, `RSS ${rssBefore.toFixed(1)} → ${rssAfter.toFixed(1)} MB`).toBeLessThan(
        40,
      );

      const stopAt = Date.now();
      const exit = await probe.stop("SIGTERM");
      expect(exit.code).toBe(0);
      expect(Date.now() - stopAt).toBeLessThan(2500);
      const logs = probe.logs();
      expect(logs.some((l) => l.msg === "vote changed" && l.rs === b.address && l.to === "down")).toBe(true);
      expect(logs.every((l) => typeof l.level === "string" && typeof l.time === "string")).toBe(true);
    } finally {
      await probe.stop("SIGKILL");
      await listener.close();
    }
  }, 90_000);

  it("refuses, on SIGHUP, a config that gives this probe a forwarding block (pins need a restart)", async () => {
    const file = tempConfig(readFileSync(config, "utf8"));
    const probe = startLvsq(["probe", "--config", file, "--id", "p1"]);
    try {
      await waitFor("the probe started", () => probe.logs().find((l) => l.msg === "probe started"), 15_000);
      const text = readFileSync(file, "utf8");
      writeFileSync(
        file,
        text.replace("{ id: p1, site: s1 }", "{ id: p1, site: s1, forwarding: { source: 127.0.0.1 } }"),
      );
      probe.child.kill("SIGHUP");
      const refused = await waitFor("the refusal", () =>
        probe.logs().find((l) => l.msg === "config reload refused; keeping the running config"),
      );
      expect(String(refused.err)).toBe(
        "the forwarding block of this probe cannot be added by a reload: restart the probe",
      );
      expect(probe.child.exitCode).toBeNull();
    } finally {
      await probe.stop("SIGKILL");
    }
  }, 30_000);

  it("exits 78 on a malformed config and 2 on an unknown probe id", async () => {
    const bad = tempConfig("cluster: e2e\nservices: { web: { vip: nope, realServers: [] } }\n");
    const badRun = startLvsq(["probe", "--config", bad, "--id", "p1"]);
    expect((await badRun.exited).code).toBe(78);
    expect(badRun.lines.join("\n")).toContain("services.web.vip");
    const unknown = startLvsq(["probe", "--config", config, "--id", "nobody"]);
    expect((await unknown.exited).code).toBe(2);
    expect(unknown.lines.join("\n")).toContain('probe "nobody" is not in the config');
  });
});
