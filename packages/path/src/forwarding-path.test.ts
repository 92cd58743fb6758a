import type { CheckTarget } from "@lvsq/checks";
import { createMemoryDriver } from "@lvsq/ipvs";
import { createLogger } from "@lvsq/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { ForwardingPath } from "./forwarding-path.js";
import type { HostFacts } from "./host-conditions.js";
import { testFleet } from "./test-fleet.js";

const silent = createLogger({ level: "silent" });
const facts: HostFacts = {
  addresses: new Map([["198.51.100.1", "eth1"]]),
  sysctl: () => undefined,
};
const director = {
  key: "tcp 192.0.2.10:80",
  protocol: "tcp" as const,
  address: "192.0.2.10:80",
  family: "inet" as const,
  scheduler: "wlc",
  realServers: [{ address: "198.51.100.11:80", forwarding: "dr" as const, weight: 1 }],
};

const opened: ForwardingPath[] = [];
afterEach(async () => {
  for (const path of opened.splice(0)) await path.stop();
});

function open(nft: (script: string) => Promise<void>, repairIntervalMs = 60_000) {
  const driver = createMemoryDriver({ services: [director] });
  const path = new ForwardingPath({
    config: testFleet(),
    probeId: "lvs-a-path",
    driver,
    nft,
    logger: silent,
    facts: () => facts,
    repairIntervalMs,
  });
  opened.push(path);
  const targets: CheckTarget[] = [];
  const run = path.wrap(async (_check, target) => {
    targets.push(target);
    return { verdict: "up", latencyMs: 1, reason: "connected" };
  });
  const check = testFleet().services.web!.check;
  return { driver, path, run: (address: string) => run(check, { address, service: "web" }), targets };
}

const marks = async (driver: { read(): Promise<{ services: { key: string }[] }> }) =>
  (await driver.read()).services.map((s) => s.key);

describe("ForwardingPath", () => {
  it("abstains until the pins are in, installs them beside the director's services, removes them on stop", async () => {
    const scripts: string[] = [];
    const { driver, path, run } = open(async (script) => {
      scripts.push(script);
    });
    expect(await run("198.51.100.11:80")).toMatchObject({
      verdict: "abstain",
      reason: "the pins are not installed yet",
    });
    await path.start();
    expect(await marks(driver)).toEqual(["fwmark 1001", "fwmark 1002", "tcp 192.0.2.10:80"]);
    expect(scripts[0]).toContain("meta mark set 0x000003e9");
    expect(await run("198.51.100.11:80")).toMatchObject({
      verdict: "up",
      reason: "connected (through 192.0.2.10:80)",
    });
    await path.stop();
    opened.length = 0;
    expect(await marks(driver)).toEqual(["tcp 192.0.2.10:80"]);
    expect(scripts.at(-1)).toBe("table ip lvsq_path_lvs_a_path\ndelete table ip lvsq_path_lvs_a_path\n");
  });

  it("checks abstain with nft's error while the rules cannot go in, and run once they can", async () => {
    let failing = true;
    const { path, run } = open(async () => {
      if (failing) throw new Error("nft not found: checks through the forwarding path need nftables");
    });
    await path.start();
    expect(await run("198.51.100.12:80")).toMatchObject({
      verdict: "abstain",
      reason:
        "forwarding pins not installed: nft not found: checks through the forwarding path need nftables",
    });
    failing = false;
    await path.reload(testFleet());
    expect(await run("198.51.100.12:80")).toMatchObject({ verdict: "up" });
  });

  it("a reload renumbers: the new pins go in before the rules, the stale ones leave after", async () => {
    const tables: string[][] = [];
    let driverRef: ReturnType<typeof createMemoryDriver> | undefined;
    const { driver, path, run, targets } = open(async () => {
      if (driverRef) tables.push(await marks(driverRef));
    });
    driverRef = driver;
    await path.start();
    const reloading = path.reload(testFleet(true));
    const during = await run("198.51.100.11:80");
    await reloading;
    expect(during).toMatchObject({
      verdict: "abstain",
      reason: "the pins are being replaced (config reload)",
    });
    // At the nft step of the reload the kernel held the new pin (1003) and still every old one.
    expect(tables.at(-1)).toEqual(["fwmark 1001", "fwmark 1002", "fwmark 1003", "tcp 192.0.2.10:80"]);
    expect((await driver.read()).services.find((s) => s.key === "fwmark 1002")?.realServers[0]?.address).toBe(
      "198.51.100.10:80",
    );
    await run("198.51.100.12:80");
    expect(targets.at(-1)?.bind).toEqual({ address: "198.51.100.1", port: 61128 });
  });

  it("puts back pins removed outside lvsq", async () => {
    const { driver, path } = open(async () => {});
    await path.start();
    await driver.apply([
      {
        type: "delete-service",
        service: { key: "fwmark 1001", protocol: "tcp", fwmark: 1001, family: "inet" },
      },
    ]);
    expect(await marks(driver)).not.toContain("fwmark 1001");
    await path.reload(testFleet());
    expect(await marks(driver)).toContain("fwmark 1001");
  });
});
