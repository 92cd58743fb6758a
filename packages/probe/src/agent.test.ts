import { parseConfig } from "@lvsq/config";
import { createLogger } from "@lvsq/runtime";
import type { BusStatus } from "@lvsq/bus";
import type { VoteBatch } from "@lvsq/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { ProbeAgent } from "./agent.js";
import type { CheckRunner, ProbeBus } from "./ports.js";

const config = parseConfig(
  `cluster: t
sites: [a]
probes: [{ id: p1, site: a }]
defaults: { check: { type: tcp, interval: 100ms, timeout: 50ms, rise: 2, fall: 2 } }
services:
  web:
    vip: 192.0.2.1:80
    realServers: [{ address: 127.0.0.2:80 }, { address: 127.0.0.3:80 }]
`,
  "probe-test.yaml",
  { env: {} },
);

class FakeBus implements ProbeBus {
  connected = true;
  readonly published: { subject: string; payload: unknown; at: number }[] = [];
  private listeners: ((status: BusStatus) => void)[] = [];
  publish(subject: string, payload: unknown) {
    this.published.push({ subject, payload, at: Date.now() });
    return this.connected;
  }
  isConnected() {
    return this.connected;
  }
  onStatus(listener: (status: BusStatus) => void) {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }
  setConnected(connected: boolean) {
    this.connected = connected;
    const status: BusStatus = connected
      ? { type: "reconnected", server: "test" }
      : { type: "disconnected", server: "test" };
    for (const l of this.listeners) l(status);
  }
  batches(): VoteBatch[] {
    return this.published.filter((p) => p.subject.includes(".votes.")).map((p) => p.payload as VoteBatch);
  }
}

const health = new Map<string, "up" | "down">([
  ["127.0.0.2:80", "up"],
  ["127.0.0.3:80", "up"],
]);
const runCheck: CheckRunner = async (_check, target) => ({
  verdict: health.get(target.address) ?? "down",
  latencyMs: 1,
  reason: health.get(target.address) === "up" ? "connected" : "connect ECONNREFUSED",
});

const silent = createLogger({ level: "silent" });
const agents: ProbeAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("ProbeAgent", () => {
  it("publishes full batches with increasing seq, unknown → up after rise successes", async () => {
    health.set("127.0.0.2:80", "up").set("127.0.0.3:80", "up");
    const bus = new FakeBus();
    agents.push(new ProbeAgent({ config, probeId: "p1", bus, runCheck, logger: silent }));
    const allUp = await until("both up", () =>
      bus.batches().find((b) => b.votes.length === 2 && b.votes.every((v) => v.state === "up")),
    );
    expect(allUp).toMatchObject({
      v: 1,
      cluster: "t",
      probe: "p1",
      site: "a",
      service: "web",
      intervalMs: 100,
    });
    const seqs = bus.batches().map((b) => b.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(bus.published.some((p) => p.subject === "lvsq.t.status.probe.p1")).toBe(true);
  });

  it("checks a dr server written with its own port on that port, and votes for it under the kernel's address", async () => {
    const dr = parseConfig(
      "cluster: t\nsites: [a]\nprobes: [{ id: p1, site: a }]\ndefaults: { check: { type: tcp, interval: 100ms, timeout: 50ms, rise: 1, fall: 1 } }\nservices:\n  web:\n    vip: 192.0.2.1:80\n    realServers: [{ address: 127.0.0.7:8080 }]\n",
      "dr.yaml",
      { env: {} },
    );
    const checked: string[] = [];
    const bus = new FakeBus();
    const recording: CheckRunner = async (_check, target) => {
      checked.push(target.address);
      return { verdict: "up", latencyMs: 1, reason: "connected" };
    };
    agents.push(new ProbeAgent({ config: dr, probeId: "p1", bus, runCheck: recording, logger: silent }));
    const batch = await until("an up vote", () => bus.batches().find((b) => b.votes[0]?.state === "up"));
    expect(batch.votes[0]!.rs).toBe("127.0.0.7:80");
    expect(new Set(checked)).toEqual(new Set(["127.0.0.7:8080"]));
  });

  it("publishes a flip at once, before the next round, after `fall` failures", async () => {
    health.set("127.0.0.2:80", "up").set("127.0.0.3:80", "up");
    const bus = new FakeBus();
    agents.push(new ProbeAgent({ config, probeId: "p1", bus, runCheck, logger: silent }));
    await until("both up", () =>
      bus.batches().some((b) => b.votes.every((v) => v.state === "up") && b.votes.length === 2),
    );
    const failedAt = Date.now();
    health.set("127.0.0.3:80", "down");
    const flip = await until("rs 3 down", () =>
      bus.published.find((p) =>
        (p.payload as VoteBatch).votes?.some((v) => v.rs === "127.0.0.3:80" && v.state === "down"),
      ),
    );
    // fall (2) × interval (100 ms) plus scheduling: generous bound
    expect(flip.at - failedAt).toBeLessThan(1000);
    const batch = flip.payload as VoteBatch;
    expect(batch.votes.find((v) => v.rs === "127.0.0.2:80")?.state).toBe("up");
    expect(batch.votes.find((v) => v.rs === "127.0.0.3:80")?.reason).toBe("connect ECONNREFUSED");
  });

  it("says how far a flip has got: a down vote whose last check succeeded carries pending up 1/rise", async () => {
    health.set("127.0.0.2:80", "up").set("127.0.0.3:80", "down");
    // After one success, rs 3's next check never ends (until the agent stops): the vote stays down, rising.
    let successes = 0;
    const stalling: CheckRunner = async (check, target, options) => {
      if (target.address !== "127.0.0.3:80" || health.get(target.address) === "down")
        return runCheck(check, target, options);
      if (successes++ === 0) return { verdict: "up", latencyMs: 1, reason: "connected" };
      return new Promise((resolve) =>
        options?.signal?.addEventListener("abort", () =>
          resolve({ verdict: "abstain", latencyMs: 0, reason: "cancelled" }),
        ),
      );
    };
    const bus = new FakeBus();
    agents.push(new ProbeAgent({ config, probeId: "p1", bus, runCheck: stalling, logger: silent }));
    await until("rs 3 down", () =>
      bus.batches().some((b) => b.votes.some((v) => v.rs === "127.0.0.3:80" && v.state === "down")),
    );
    health.set("127.0.0.3:80", "up");
    const vote = await until("rs 3 down, rising", () =>
      bus
        .batches()
        .flatMap((b) => b.votes)
        .find((v) => v.rs === "127.0.0.3:80" && v.state === "down" && v.pending),
    );
    expect(vote).toMatchObject({
      state: "down",
      reason: "connected",
      pending: { state: "up", count: 1, needed: 2 },
    });
    const settled = bus
      .batches()
      .flatMap((b) => b.votes)
      .find((v) => v.rs === "127.0.0.2:80" && v.state === "up");
    expect(settled).not.toHaveProperty("pending");
  });

  it("says in its next heartbeat that it was cut off since the previous one", async () => {
    const bus = new FakeBus();
    agents.push(
      new ProbeAgent({ config, probeId: "p1", bus, runCheck, logger: silent, heartbeatIntervalMs: 50 }),
    );
    const beats = () =>
      bus.published
        .filter((p) => p.subject === "lvsq.t.status.probe.p1")
        .map((p) => p.payload as { connected: boolean });
    await until("a heartbeat", () => beats().length > 0);
    expect(beats().every((b) => b.connected)).toBe(true);
    bus.setConnected(false);
    bus.setConnected(true);
    const count = beats().length;
    await until("the next two heartbeats", () => beats().length >= count + 2);
    expect(
      beats()
        .slice(count, count + 2)
        .map((b) => b.connected),
    ).toEqual([false, true]);
  });

  it("holds only the latest state while disconnected and republishes it on reconnect", async () => {
    health.set("127.0.0.2:80", "up").set("127.0.0.3:80", "up");
    const bus = new FakeBus();
    const agent = new ProbeAgent({ config, probeId: "p1", bus, runCheck, logger: silent });
    agents.push(agent);
    await until("both up", () =>
      bus.batches().some((b) => b.votes.length === 2 && b.votes.every((v) => v.state === "up")),
    );
    bus.setConnected(false);
    const publishedBefore = bus.published.length;
    health.set("127.0.0.2:80", "down");
    await until(
      "probe sees it down",
      () => agent.snapshot().web?.find((v) => v.rs === "127.0.0.2:80")?.state === "down",
    );
    expect(bus.published.length).toBe(publishedBefore);
    expect(agent.stats.batchesSkipped).toBeGreaterThan(0);
    bus.setConnected(true);
    const republished = bus.batches().at(-1)!;
    expect(republished.votes.find((v) => v.rs === "127.0.0.2:80")?.state).toBe("down");
  });

  it("stops publishing after stop()", async () => {
    const bus = new FakeBus();
    const agent = new ProbeAgent({ config, probeId: "p1", bus, runCheck, logger: silent });
    await agent.stop();
    const count = bus.published.length;
    await new Promise((r) => setTimeout(r, 250));
    expect(bus.published.length).toBe(count);
  });

  it("refuses an id that is not in the config", () => {
    expect(
      () => new ProbeAgent({ config, probeId: "nobody", bus: new FakeBus(), runCheck, logger: silent }),
    ).toThrow(/not in the config/);
  });
});
