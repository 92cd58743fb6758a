import {
  type IpvsTable,
  type RealServerEntry,
  sortTable,
  type VirtualServiceEntry,
  virtualServiceKey,
} from "@lvsq/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IpvsadmError } from "./errors.js";
import { KERNEL_SCHEDULERS } from "./kernel-model.js";
import { createMemoryDriver } from "./memory-driver.js";
import { normalizeService } from "./normalize.js";
import { plan } from "./plan.js";

const svc = (address: string, scheduler = "rr", realServers: RealServerEntry[] = []): VirtualServiceEntry => {
  const base = { protocol: "tcp" as const, address, family: "inet" as const };
  return { key: virtualServiceKey(base), ...base, scheduler, realServers };
};
const rs = (address: string, weight = 1): RealServerEntry => ({ address, forwarding: "nat", weight });

describe("memory driver", () => {
  it("applies a plan and reads back the desired table", async () => {
    const driver = createMemoryDriver();
    const desired = { services: [svc("192.0.2.1:80", "wrr", [rs("127.0.0.2:80", 2), rs("127.0.0.3:80")])] };
    const result = await driver.apply(plan(desired, await driver.read(), new Set(["tcp 192.0.2.1:80"])));
    expect(result).toMatchObject({ applied: 3, warnings: [] });
    expect(await driver.read()).toEqual(sortTable(desired));
    expect(driver.batches).toHaveLength(1);
  });

  it("an unknown scheduler fails only its own ops, names them, and carries the re-read table", async () => {
    const driver = createMemoryDriver();
    const desired = {
      services: [
        svc("192.0.2.1:80", "nosuch", [rs("127.0.0.2:80")]),
        svc("192.0.2.2:80", "rr", [rs("127.0.0.3:80")]),
      ],
    };
    const ops = plan(desired, await driver.read(), new Set(desired.services.map((s) => s.key)));
    const error = await driver.apply(ops).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpvsadmError);
    const e = error as IpvsadmError;
    expect(e.code).toBe("ipvsadm_failed");
    expect(e.stderr).toContain("Scheduler or persistence engine not found");
    expect(e.notApplied.map((op) => op.type)).toEqual(["add-service", "add-server"]);
    expect(e.message).toContain("-A -t 192.0.2.1:80 -s nosuch");
    expect(e.observed?.services.map((s) => s.key)).toEqual(["tcp 192.0.2.2:80"]);
    expect((await driver.read()).services.map((s) => s.key)).toEqual(["tcp 192.0.2.2:80"]);
  });

  it("a real server needs its service", async () => {
    const driver = createMemoryDriver();
    const ref = {
      key: "tcp 192.0.2.1:80",
      protocol: "tcp" as const,
      address: "192.0.2.1:80",
      family: "inet" as const,
    };
    const error = await driver
      .apply([{ type: "add-server", service: ref, server: rs("127.0.0.2:80") }])
      .catch((e) => e);
    expect((error as IpvsadmError).stderr).toBe("Service not defined");
  });

  it("duplicate identical adds and deletes of absent entries are idempotent successes (warnings)", async () => {
    const initial = { services: [svc("192.0.2.1:80", "rr", [rs("127.0.0.2:80")])] };
    const driver = createMemoryDriver(initial);
    const ref = {
      key: "tcp 192.0.2.1:80",
      protocol: "tcp" as const,
      address: "192.0.2.1:80",
      family: "inet" as const,
    };
    const result = await driver.apply([
      { type: "add-service", service: { ...ref, scheduler: "rr" } },
      { type: "add-server", service: ref, server: rs("127.0.0.2:80") },
      { type: "delete-server", service: ref, address: "127.0.0.9:80" },
      { type: "delete-service", service: { ...ref, key: "tcp 192.0.2.9:80", address: "192.0.2.9:80" } },
    ]);
    expect(result.warnings).toEqual([
      "Service already exists",
      "Destination already exists",
      "No such destination",
      "No such service",
    ]);
    expect(await driver.read()).toEqual(sortTable(initial));
  });

  it("an add that meets a different existing entry did not take", async () => {
    const driver = createMemoryDriver({ services: [svc("192.0.2.1:80", "rr", [rs("127.0.0.2:80", 1)])] });
    const ref = {
      key: "tcp 192.0.2.1:80",
      protocol: "tcp" as const,
      address: "192.0.2.1:80",
      family: "inet" as const,
    };
    const error = await driver
      .apply([{ type: "add-server", service: ref, server: rs("127.0.0.2:80", 5) }])
      .catch((e) => e);
    expect((error as IpvsadmError).notApplied).toHaveLength(1);
  });

  it("read returns a copy", async () => {
    const driver = createMemoryDriver({ services: [svc("192.0.2.1:80")] });
    (await driver.read()).services.pop();
    expect((await driver.read()).services).toHaveLength(1);
  });
});

// Small pools so that generated tables overlap: same services with different settings and servers.
const serviceIds = fc.constantFrom(
  { protocol: "tcp" as const, address: "192.0.2.1:80", family: "inet" as const },
  { protocol: "tcp" as const, address: "192.0.2.2:80", family: "inet" as const },
  { protocol: "udp" as const, address: "192.0.2.1:53", family: "inet" as const },
  { protocol: "sctp" as const, address: "[2001:db8::1]:80", family: "inet6" as const },
  { protocol: "tcp" as const, fwmark: 7, family: "inet" as const },
  { protocol: "tcp" as const, fwmark: 7, family: "inet6" as const },
);
const server = fc.record(
  {
    address: fc.constantFrom("198.51.100.1:80", "198.51.100.2:80", "198.51.100.3:80", "198.51.100.4:80"),
    forwarding: fc.constantFrom("dr" as const, "nat" as const, "tunnel" as const),
    weight: fc.integer({ min: 0, max: 5 }),
    upperThreshold: fc.integer({ min: 0, max: 3 }),
    tunnelType: fc.constantFrom("ipip" as const, "gre" as const),
  },
  { requiredKeys: ["address", "forwarding", "weight"] },
);
const service = fc
  .record({
    id: serviceIds,
    scheduler: fc.constantFrom(...KERNEL_SCHEDULERS.slice(0, 6)),
    persistence: fc.option(fc.record({ timeoutS: fc.integer({ min: 1, max: 900 }) }), { nil: undefined }),
    onePacket: fc.boolean(),
    realServers: fc.uniqueArray(server, { selector: (s) => s.address, maxLength: 4 }),
  })
  .map(({ id, persistence, ...rest }): VirtualServiceEntry => {
    const entry: VirtualServiceEntry = { key: virtualServiceKey(id), ...id, ...rest };
    if (persistence !== undefined) entry.persistence = persistence;
    return entry;
  });
const ipvsTable = fc
  .uniqueArray(service, { selector: (s) => s.key, maxLength: 5 })
  .map((services): IpvsTable => ({ services }));
const ownedKeys = fc.subarray([
  "tcp 192.0.2.1:80",
  "tcp 192.0.2.2:80",
  "udp 192.0.2.1:53",
  "sctp [2001:db8::1]:80",
  "fwmark 7",
  "fwmark6 7",
]);

describe("plan properties (against the memory kernel)", () => {
  it("applying plan(d, o) to o yields d for owned services and leaves the rest as they were", async () => {
    await fc.assert(
      fc.asyncProperty(ipvsTable, ipvsTable, ownedKeys, async (desired, observed, keys) => {
        const owned = new Set(keys);
        const driver = createMemoryDriver(observed);
        await driver.apply(plan(desired, await driver.read(), owned));
        const after = await driver.read();
        const pick = (t: IpvsTable, own: boolean) =>
          sortTable({ services: t.services.filter((s) => owned.has(s.key) === own).map(normalizeService) });
        expect(pick(after, true)).toEqual(pick(desired, true));
        expect(pick(after, false)).toEqual(pick(observed, false));
        expect(plan(desired, after, owned)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("the plan of equal tables is empty", () => {
    fc.assert(
      fc.property(ipvsTable, (t) => {
        expect(plan(t, structuredClone(t), new Set(t.services.map((s) => s.key)))).toEqual([]);
      }),
    );
  });

  it("every op touches an owned service", () => {
    fc.assert(
      fc.property(ipvsTable, ipvsTable, ownedKeys, (d, o, keys) => {
        for (const op of plan(d, o, new Set(keys))) expect(keys).toContain(op.service.key);
      }),
    );
  });
});
