import type { IpvsTable, RealServerEntry, VirtualServiceEntry } from "@lvsq/protocol";
import { virtualServiceKey } from "@lvsq/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openKernelDriver } from "./kernel-driver.js";
import { tableAfterOps } from "./kernel-model.js";
import { openNetlinkDriver } from "./netlink-driver.js";
import { IpvsNetlinkError } from "./nl-errors.js";
import {
  decodeIpvs,
  encodeIpvs,
  IPVS_CMD,
  type IpvsDestAttrs,
  type IpvsServiceAttrs,
} from "./nl-ipvs-attrs.js";
import type { NetlinkTransport } from "./nl-socket.js";
import {
  decodeMessages,
  encodeGenl,
  encodeMessage,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLM_F_MULTI,
  put,
} from "./nl-wire.js";
import { plan } from "./plan.js";

const FAMILY = 32;
const SCHEDULERS = ["rr", "wrr"];
type FakeService = { attrs: IpvsServiceAttrs; dests: Map<string, IpvsDestAttrs> };

/**
 * A kernel's IPVS behind the codec, in memory: the errno rules of ip_vs_genl_set_cmd (EEXIST, ESRCH,
 * ENOENT for an unknown scheduler or a missing destination) and dumps of what it holds. `silent` stops
 * all answers (a hung kernel); `datagrams` records how many messages each datagram carried.
 */
function fakeKernel(options: { hasIpvs?: boolean } = {}) {
  const services = new Map<string, FakeService>();
  const datagrams: number[] = [];
  let handler: (datagram: Buffer) => void = () => {};
  const state = { silent: false };
  const svcId = (a: IpvsServiceAttrs) =>
    `${a.af}|${a.fwmark ?? ""}|${a.protocol}|${a.addr?.toString("hex")}|${a.port}`;
  const destId = (a: IpvsDestAttrs) => `${a.addr?.toString("hex")}|${a.port}`;
  const answer = (seq: number, errno: number) => {
    const payload = Buffer.alloc(20);
    payload.writeInt32LE(-errno, 0);
    payload.writeUInt32LE(seq, 12);
    return encodeMessage({ type: NLMSG_ERROR, flags: 0, seq, pid: 1, payload });
  };
  const multi = (seq: number, payloads: Buffer[]) =>
    Buffer.concat([
      ...payloads.map((payload) => encodeMessage({ type: FAMILY, flags: NLM_F_MULTI, seq, pid: 1, payload })),
      encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, seq, pid: 1, payload: Buffer.alloc(4) }),
    ]);
  function write(cmd: number, service: IpvsServiceAttrs, dest: IpvsDestAttrs | undefined): number {
    const found = services.get(svcId(service));
    if (cmd === IPVS_CMD.NEW_SERVICE || cmd === IPVS_CMD.SET_SERVICE) {
      if (cmd === IPVS_CMD.NEW_SERVICE && found) return 17;
      if (cmd === IPVS_CMD.SET_SERVICE && !found) return 3;
      if (!SCHEDULERS.includes(service.schedName ?? "")) return 2;
      services.set(svcId(service), { attrs: service, dests: found?.dests ?? new Map() });
      return 0;
    }
    if (!found) return 3;
    if (cmd === IPVS_CMD.DEL_SERVICE) return services.delete(svcId(service)) ? 0 : 3;
    const id = destId(dest!);
    const has = found.dests.has(id);
    if (cmd === IPVS_CMD.NEW_DEST && has) return 17;
    if (cmd !== IPVS_CMD.NEW_DEST && !has) return 2;
    if (cmd === IPVS_CMD.DEL_DEST) found.dests.delete(id);
    else found.dests.set(id, dest!);
    return 0;
  }
  const transport: NetlinkTransport = {
    port: 7,
    recvBufferSize: 425_984,
    onMessage: (h) => {
      handler = h;
    },
    onError: () => {},
    close: () => {},
    send(datagram, done) {
      done();
      const messages = decodeMessages(Buffer.concat(datagram));
      datagrams.push(messages.length);
      for (const m of messages) {
        if (state.silent) continue;
        const reply: Buffer[] = [];
        if (m.type === 0x10) {
          if (options.hasIpvs === false) reply.push(answer(m.seq, 2));
          else {
            const payload = encodeGenl({ cmd: 1, version: 2, attrs: [put.u16(1, FAMILY)] });
            reply.push(
              encodeMessage({ type: 0x10, flags: 0, seq: m.seq, pid: 1, payload }),
              answer(m.seq, 0),
            );
          }
        } else {
          const req = decodeIpvs(m.payload);
          if (req.cmd === IPVS_CMD.GET_INFO) {
            const payload = encodeIpvs({
              cmd: IPVS_CMD.SET_INFO,
              version: 1,
              info: { version: 0x010201, connTabSize: 4096 },
            });
            reply.push(
              encodeMessage({ type: FAMILY, flags: 0, seq: m.seq, pid: 1, payload }),
              answer(m.seq, 0),
            );
          } else if (req.cmd === IPVS_CMD.GET_SERVICE) {
            const all = [...services.values()].map((s) =>
              encodeIpvs({ cmd: 1, version: 1, service: s.attrs }),
            );
            reply.push(multi(m.seq, all));
          } else if (req.cmd === IPVS_CMD.GET_DEST) {
            const dests = [...(services.get(svcId(req.service!))?.dests.values() ?? [])];
            reply.push(
              multi(
                m.seq,
                dests.map((dest) => encodeIpvs({ cmd: 5, version: 1, dest })),
              ),
            );
          } else {
            reply.push(answer(m.seq, write(req.cmd, req.service!, req.dest)));
          }
        }
        for (const r of reply) queueMicrotask(() => handler(r));
      }
    },
  };
  return { transport, services, datagrams, state };
}

const rs = (address: string, weight = 1): RealServerEntry => ({ address, forwarding: "dr", weight });
function service(address: string, scheduler: string, realServers: RealServerEntry[]): VirtualServiceEntry {
  const id = { protocol: "tcp" as const, address, family: "inet" as const };
  return { key: virtualServiceKey(id), ...id, scheduler, realServers };
}
const keysOf = (t: IpvsTable) => new Set(t.services.map((s) => s.key));
const open = (kernel: ReturnType<typeof fakeKernel>, timeoutMs = 1000) =>
  openNetlinkDriver({ transport: async () => kernel.transport, modprobe: false, timeoutMs });

afterEach(() => {
  vi.useRealTimers();
});

describe("netlink driver (on an in-memory kernel behind the real codec)", () => {
  it("applies a plan and reads the table back", async () => {
    const kernel = fakeKernel();
    const driver = await open(kernel);
    expect(driver.info).toEqual({ version: "1.2.1", connTabSize: 4096, familyId: FAMILY });
    const desired = {
      services: [service("192.0.2.1:80", "wrr", [rs("198.51.100.1:80", 2), rs("198.51.100.2:80")])],
    };
    const result = await driver.apply(plan(desired, await driver.read(), keysOf(desired)));
    expect(result).toMatchObject({ applied: 3, warnings: [] });
    expect(await driver.read()).toEqual(desired);
    expect(await driver.connections?.()).toEqual(
      new Map([
        [
          "tcp 192.0.2.1:80",
          new Map([
            ["198.51.100.1:80", 0],
            ["198.51.100.2:80", 0],
          ]),
        ],
      ]),
    );
  });

  it("gives each op its own error; the other ops of the batch take, and the error says exactly which did not", async () => {
    const kernel = fakeKernel();
    const driver = await open(kernel);
    const desired = {
      services: [
        service("192.0.2.1:80", "rr", [rs("198.51.100.1:80")]),
        service("192.0.2.66:80", "nosuch", [rs("198.51.100.6:80")]),
        service("192.0.2.67:80", "rr", [rs("198.51.100.7:80")]),
      ],
    };
    const ops = plan(desired, { services: [] }, keysOf(desired));
    const error = await driver.apply(ops).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpvsNetlinkError);
    const failure = error as IpvsNetlinkError;
    expect(failure.exact).toBe(true);
    expect(failure.notApplied).toEqual(ops.filter((op) => op.service.key === "tcp 192.0.2.66:80"));
    expect(failure.failures.map((f) => f.code)).toEqual(["ENOENT", "ESRCH"]);
    expect(failure.message).toContain(
      "tcp 192.0.2.66:80: add service: Scheduler or persistence engine not found (is kernel module ip_vs_nosuch available?) (ENOENT) [ipvsadm -A -t 192.0.2.66:80 -s nosuch]",
    );
    expect(failure.message).toContain(
      "tcp 192.0.2.66:80 → 198.51.100.6:80: add real server: Service not defined (ESRCH)",
    );
    const read = await driver.read();
    expect([...keysOf(read)]).toEqual(["tcp 192.0.2.1:80", "tcp 192.0.2.67:80"]);
    // What the director computes from the error instead of re-reading is the kernel's table.
    expect(tableAfterOps({ services: [] }, ops, failure.notApplied)).toEqual(read);
  });

  it("makes stale writes idempotent: an add of an existing entry is set in place, a delete of a missing one took", async () => {
    const kernel = fakeKernel();
    const driver = await open(kernel);
    const before = { services: [service("192.0.2.1:80", "rr", [rs("198.51.100.1:80", 1)])] };
    await driver.apply(plan(before, { services: [] }, keysOf(before)));
    const after = { services: [service("192.0.2.1:80", "wrr", [rs("198.51.100.1:80", 5)])] };
    const stale = plan(after, { services: [] }, keysOf(after)); // planned against an empty table
    const result = await driver.apply(stale);
    expect(result.warnings).toEqual([
      "tcp 192.0.2.1:80: add service: Service already exists (EEXIST; sent as edit-service instead) [ipvsadm -A -t 192.0.2.1:80 -s wrr]",
      "tcp 192.0.2.1:80 → 198.51.100.1:80: add real server: Destination already exists (EEXIST; sent as edit-server instead) [ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.1:80 -g -w 5]",
    ]);
    expect(await driver.read()).toEqual(after);
    const gone = plan(
      { services: [] },
      { services: [service("192.0.2.9:80", "rr", [rs("198.51.100.9:80")])] },
      new Set(["tcp 192.0.2.9:80"]),
    );
    const deleted = await driver.apply(gone);
    expect(deleted.warnings.map((w) => w.split(": ").slice(1, 3).join(": "))).toEqual([
      "delete real server: Service not defined (ESRCH; already gone) [ipvsadm -d -t 192.0.2.9:80 -r 198.51.100.9:80]",
      "delete service: No such service (ESRCH; already gone) [ipvsadm -D -t 192.0.2.9:80]",
    ]);
    const editMissing = [
      { type: "edit-server" as const, service: after.services[0]!, server: rs("198.51.100.2:80", 3) },
    ];
    expect((await driver.apply(editMissing)).warnings[0]).toContain(
      "No such destination (ENOENT; sent as add-server instead)",
    );
    expect((await driver.read()).services[0]?.realServers).toEqual([
      rs("198.51.100.1:80", 5),
      rs("198.51.100.2:80", 3),
    ]);
  });

  it("pipelines a big batch within its window, several requests per datagram", async () => {
    const kernel = fakeKernel();
    const driver = await open(kernel);
    const servers = Array.from({ length: 2000 }, (_, i) => rs(`10.0.${i >> 8}.${i & 255}:80`));
    const desired = { services: [service("192.0.2.1:80", "wrr", servers)] };
    const ops = plan(desired, { services: [] }, keysOf(desired));
    await driver.apply(ops);
    expect((await driver.read()).services[0]?.realServers).toHaveLength(2000);
    const window = Math.floor(425_984 / 2048);
    expect(Math.max(...kernel.datagrams)).toBeLessThanOrEqual(Math.min(window, 64));
    expect(kernel.datagrams.length).toBeLessThan(ops.length / 10);
  });

  it("fails the ops whose answers never came after timeoutMs of kernel silence, and says the outcome is not exact", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    const kernel = fakeKernel();
    const opening = open(kernel, 500);
    await vi.advanceTimersByTimeAsync(0);
    const driver = await opening;
    kernel.state.silent = true;
    const desired = { services: [service("192.0.2.1:80", "rr", [rs("198.51.100.1:80")])] };
    const applying = driver.apply(plan(desired, { services: [] }, keysOf(desired))).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(499);
    let settled = false;
    void applying.then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = (await applying) as IpvsNetlinkError;
    expect(error).toBeInstanceOf(IpvsNetlinkError);
    expect(error.exact).toBe(false);
    expect(error.notApplied).toHaveLength(2);
    expect(error.failures[0]?.message).toBe("tcp 192.0.2.1:80: no answer from the kernel within 500 ms");
    const reading = driver.read().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(500);
    expect(String(await reading)).toContain(
      "reading the services over netlink failed: no answer from the kernel within 500 ms",
    );
  });

  it("refuses a network namespace, and says where the kernel has no IPVS", async () => {
    await expect(openNetlinkDriver({ netns: "dirA" })).rejects.toThrow(
      /cannot open its socket in network namespace dirA: run the director inside it \(ip netns exec dirA lvsq \.\.\.\), or use driver ipvsadm/,
    );
    const kernel = fakeKernel({ hasIpvs: false });
    await expect(open(kernel)).rejects.toMatchObject({
      code: "ipvs_unavailable",
      message: "cannot resolve generic netlink family IPVS: the kernel has no IPVS (ip_vs)",
    });
  });

  it("chooses netlink by default, falls back to ipvsadm only when no driver was asked for", async () => {
    const broken = async () => {
      throw new Error("cannot load the netlink socket library");
    };
    const fallback = await openKernelDriver({ ipvsadm: "ipvsadm", openNetlink: broken });
    expect(fallback).toMatchObject({
      name: "ipvsadm",
      fallbackReason: "cannot load the netlink socket library",
    });
    await expect(
      openKernelDriver({ driver: "netlink", ipvsadm: "ipvsadm", openNetlink: broken }),
    ).rejects.toThrow("cannot load the netlink socket library");
    const kernel = fakeKernel();
    const chosen = await openKernelDriver({ ipvsadm: "ipvsadm", openNetlink: () => open(kernel) });
    expect(chosen).toMatchObject({
      name: "netlink",
      detail: "IPVS 1.2.1 over generic netlink (connection table 4096)",
    });
    expect((await openKernelDriver({ driver: "ipvsadm", ipvsadm: "/sbin/ipvsadm" })).detail).toBe(
      "/sbin/ipvsadm (one process per apply)",
    );
    chosen.close();
  });
});
