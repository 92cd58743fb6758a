import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryNetwork } from "@lvsq/bus";
import { parseConfig } from "@lvsq/config";
import { createMemoryDriver } from "@lvsq/ipvs";
import { subjects, type VoteBatch } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { afterAll, describe, expect, it } from "vitest";
import { DirectorAgent } from "./agent.js";
import { until } from "./test-support.js";

const dir = mkdtempSync(join(tmpdir(), "lvsq-agent-notify-"));
const log = join(dir, "hooks.log");
const hook = join(dir, "hook.sh");
// Records its arguments, then takes its time: the director must not wait for it.
writeFileSync(hook, `#!/bin/sh\necho "$*" >> ${log}\nsleep 2\n`);
chmodSync(hook, 0o755);

const config = parseConfig(
  `cluster: t
quorum: { startupGrace: 0s, voteTtl: 5s }
director: { notify: { role: [${hook}] } }
services:
  web:
    vip: 192.0.2.1:80
    notify: { up: [${hook}], down: [${hook}] }
    realServers: [{ address: 198.51.100.1:80 }]
`,
  "notify.yaml",
  { env: {} },
);

let seq = 1;
const batch = (state: "up" | "down"): VoteBatch => ({
  v: 1,
  cluster: "t",
  probe: "local",
  site: "local",
  service: "web",
  seq: seq++,
  sentAt: Date.now(),
  intervalMs: 1000,
  votes: [{ rs: "198.51.100.1:80", state, since: 0, latencyMs: 1, reason: state }],
});

const agents: DirectorAgent[] = [];
afterAll(async () => {
  for (const agent of agents) await agent.stop();
});

describe("DirectorAgent notify hooks", () => {
  it("runs rs-up, rs-down and role hooks without waiting for them", async () => {
    const network = createMemoryNetwork();
    const driver = createMemoryDriver();
    const agent = await DirectorAgent.start({
      config,
      directorId: "local",
      bus: network.connect("director"),
      driver,
      logger: createLogger({ level: "silent" }),
      standalone: true,
      heartbeatMs: 50,
    });
    agents.push(agent);
    const probes = network.connect("probe");
    probes.publish(subjects.votes("t", "local", "web"), batch("up"));
    await until("in the table", async () => (await driver.read()).services[0]?.realServers.length === 1);
    const downAt = Date.now();
    probes.publish(subjects.votes("t", "local", "web"), batch("down"));
    await until("out of the table", async () => (await driver.read()).services[0]?.realServers.length === 0);
    // The up hook sleeps 2 s; the removal did not wait for it.
    expect(Date.now() - downAt).toBeLessThan(1500);
    await until(
      "all three hooks ran",
      () => existsSync(log) && readFileSync(log, "utf8").split("\n").length > 3,
    );
    expect(readFileSync(log, "utf8").trim().split("\n").sort()).toEqual([
      "role standalone none",
      "rs-down web 198.51.100.1:80",
      "rs-up web 198.51.100.1:80",
    ]);
    await agent.notifier.idle();
    expect(agent.notifier.stats.ok).toBe(3);
  });
});
