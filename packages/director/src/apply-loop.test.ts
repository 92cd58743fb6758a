import { createMemoryDriver, type IpvsDriver, IpvsNetlinkError } from "@lvsq/ipvs";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { type ApplyOutcome, ApplyLoop } from "./apply-loop.js";

const service = (realServers: string[]) => ({
  key: "tcp 192.0.2.1:80",
  protocol: "tcp" as const,
  family: "inet" as const,
  address: "192.0.2.1:80",
  scheduler: "wlc",
  realServers: realServers.map((address) => ({ address, forwarding: "dr" as const, weight: 1 })),
});

/** The memory kernel, but its reads and applies wait until the test lets them finish; counts what runs at once. */
function slowKernel() {
  const memory = createMemoryDriver();
  const gates: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const gate = async <T>(body: () => Promise<T>): Promise<T> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise<void>((open) => gates.push(open));
    inFlight--;
    return body();
  };
  const driver: IpvsDriver = {
    read: () => gate(() => memory.read()),
    apply: (ops) => gate(() => memory.apply(ops)),
  };
  return {
    driver,
    /** Lets every pending read/apply finish, until nothing is pending (bounded). */
    async drain() {
      for (let i = 0; i < 100 && gates.length > 0; i++) {
        gates.shift()!();
        await new Promise((r) => setTimeout(r, 0));
      }
    },
    maxInFlight: () => maxInFlight,
  };
}

describe("ApplyLoop.reconcile", () => {
  it("a table submitted while the reconcile reads the kernel is applied after it, not reported as drift", async () => {
    const kernel = slowKernel();
    const outcomes: ApplyOutcome[] = [];
    const loop = new ApplyLoop(
      kernel.driver,
      () => new Set(["tcp 192.0.2.1:80"]),
      pino({ level: "silent" }),
      (o) => outcomes.push(o),
    );
    loop.submit({ services: [service([])] });
    await kernel.drain();
    await loop.idle();
    const reconciled = loop.reconcile(); // reads the kernel (gated)...
    loop.submit({ services: [service(["198.51.100.1:80"])] }); // ...while votes bring a real server up
    await kernel.drain();
    expect(await reconciled).toEqual([]);
    await kernel.drain();
    await loop.idle();
    expect(outcomes.map((o) => ({ drift: o.drift, ops: o.ops.map((op) => op.type) }))).toEqual([
      { drift: false, ops: ["add-service"] },
      { drift: false, ops: ["add-server"] },
    ]);
    expect(kernel.maxInFlight()).toBe(1);
  });
});

describe("ApplyLoop when the kernel cannot be read", () => {
  it("reports a failed apply whose re-read also fails, and an unreadable kernel at the next batch, without throwing", async () => {
    const memory = createMemoryDriver();
    let broken = false;
    const driver: IpvsDriver = {
      read: () => (broken ? Promise.reject(new Error("ipvsadm -S timed out")) : memory.read()),
      apply: (ops) => (broken ? Promise.reject(new Error("ipvsadm -R timed out")) : memory.apply(ops)),
    };
    const outcomes: ApplyOutcome[] = [];
    const loop = new ApplyLoop(
      driver,
      () => new Set(["tcp 192.0.2.1:80"]),
      pino({ level: "silent" }),
      (o) => outcomes.push(o),
    );
    loop.submit({ services: [service([])] });
    await loop.idle();
    broken = true;
    loop.submit({ services: [service(["198.51.100.1:80"])] }); // the apply fails, so does the re-read
    await loop.idle();
    loop.submit({ services: [service(["198.51.100.2:80"])] }); // no table to plan against: read fails
    await loop.idle(); // resolves: a waiter never sees the failure as a rejection
    expect(outcomes.map((o) => o.error?.message)).toEqual([
      undefined,
      "ipvsadm -R timed out",
      "ipvsadm -S timed out",
    ]);
    broken = false;
    expect(await loop.reconcile()).toHaveLength(1); // the repair writes the newest wanted table
    expect((await memory.read()).services[0]!.realServers.map((r) => r.address)).toEqual(["198.51.100.2:80"]);
  });
});

describe("ApplyLoop after a partly failed apply", () => {
  it("takes the kernel's state from a driver that knows each op's fate (netlink), without re-reading", async () => {
    const memory = createMemoryDriver();
    let reads = 0;
    const driver: IpvsDriver = {
      read: () => {
        reads++;
        return memory.read();
      },
      // Every op takes but the add of 198.51.100.2, which the kernel refused on its own.
      async apply(ops) {
        const refused = ops.filter(
          (op) => op.type === "add-server" && op.server.address === "198.51.100.2:80",
        );
        await memory.apply(ops.filter((op) => !refused.includes(op)));
        const failures = refused.map((op) => ({ op, errno: 22, code: "EINVAL", message: "refused" }));
        throw new IpvsNetlinkError(ops.length, failures, true, []);
      },
    };
    const outcomes: ApplyOutcome[] = [];
    const loop = new ApplyLoop(
      driver,
      () => new Set(["tcp 192.0.2.1:80"]),
      pino({ level: "silent" }),
      (o) => outcomes.push(o),
    );
    loop.submit({ services: [service(["198.51.100.1:80", "198.51.100.2:80"])] });
    await loop.idle();
    expect(outcomes.map((o) => o.error?.name)).toEqual(["IpvsNetlinkError"]);
    expect(reads).toBe(1); // the first read only: no re-read after the failure
    expect(loop.lastObserved).toEqual(await memory.read());
    // The next desired table plans only what is missing: the refused add, again.
    loop.submit({ services: [service(["198.51.100.1:80", "198.51.100.2:80", "198.51.100.3:80"])] });
    await loop.idle();
    expect(outcomes[1]?.ops.map((op) => op.type === "add-server" && op.server.address)).toEqual([
      "198.51.100.2:80",
      "198.51.100.3:80",
    ]);
  });
});
