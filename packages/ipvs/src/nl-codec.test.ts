import { readFileSync } from "node:fs";
import { type IpvsTable, sortTable } from "@lvsq/protocol";
import { describe, expect, it } from "vitest";
import { tableAfterOps } from "./kernel-model.js";
import { openNetlinkDriver } from "./netlink-driver.js";
import { decodeIpvs, encodeIpvs } from "./nl-ipvs-attrs.js";
import { opMessage } from "./nl-ipvs-model.js";
import type { NetlinkTransport } from "./nl-socket.js";
import {
  decodeError,
  decodeMessages,
  encodeMessage,
  NLMSG_DONE,
  NLMSG_ERROR,
  type NlMessage,
} from "./nl-wire.js";
import type { IpvsOp } from "./ops.js";
import { parseSave } from "./save-parser.js";
import { mergeThresholds, parseThresholds } from "./thresholds-parser.js";

// Every datagram between the netlink driver and Linux 6.1's IPVS in the test guest, recorded by
// scripts/capture-netlink-fixtures.mjs while it applied and read a table covering every feature lvsq models.
type Exchange = { out: string[]; in: string[] };
const capture = JSON.parse(
  readFileSync(new URL("./fixtures/netlink-capture.json", import.meta.url), "utf8"),
) as {
  kernel: string;
  info: { version: string; connTabSize: number; familyId: number };
  open: Exchange;
  desired: IpvsTable;
  ops: IpvsOp[];
  apply: Exchange;
  read: Exchange & { table: IpvsTable };
  save: string;
  thresholds: string;
  refusals: Exchange & { ops: IpvsOp[]; warnings: string[]; failures: string[] };
};
const family = capture.info.familyId;
const hex = (text: string) => Buffer.from(text, "hex");
const messagesOf = (datagrams: string[]) => datagrams.flatMap((d) => decodeMessages(hex(d)));
const exchanges = [capture.open, capture.apply, capture.read, capture.refusals];

/** Re-frames messages as the kernel does: each header + payload, padded to 4 bytes. */
function reframe(messages: NlMessage[]): Buffer {
  return Buffer.concat(
    messages.map((m) => {
      const bytes = encodeMessage(m);
      return Buffer.concat([bytes, Buffer.alloc(((bytes.length + 3) & ~3) - bytes.length)]);
    }),
  );
}

describe("netlink codec against messages captured from the kernel", () => {
  it("was captured on a real kernel's IPVS", () => {
    expect(capture.kernel).toMatch(/^\d+\.\d+/);
    expect(capture.info.version).toBe("1.2.1");
    expect(capture.read.in.length).toBeGreaterThan(capture.read.table.services.length);
  });

  it("decodes every datagram the kernel sent and re-encodes it to the same bytes", () => {
    let ipvsMessages = 0;
    for (const datagram of exchanges.flatMap((e) => e.in)) {
      const messages = decodeMessages(hex(datagram));
      expect(reframe(messages).toString("hex")).toBe(datagram);
      for (const m of messages) {
        if (m.type !== family) continue;
        const decoded = decodeIpvs(m.payload);
        expect(decoded.unknown).toBeUndefined();
        expect(encodeIpvs(decoded).toString("hex")).toBe(m.payload.toString("hex"));
        ipvsMessages++;
      }
    }
    // GET_INFO's reply, one NEW_SERVICE per service and one NEW_DEST per real server
    const servers = capture.desired.services.reduce((n, s) => n + s.realServers.length, 0);
    expect(ipvsMessages).toBe(1 + capture.desired.services.length + servers);
  });

  it("encodes the plan's ops to exactly the requests the kernel ACKed", () => {
    const sent = messagesOf(capture.apply.out);
    expect(sent.map((m) => m.payload.toString("hex"))).toEqual(
      capture.ops.map((op) => encodeIpvs(opMessage(op)).toString("hex")),
    );
    const answers = messagesOf(capture.apply.in);
    expect(answers.every((m) => m.type === NLMSG_ERROR && decodeError(m).errno === 0)).toBe(true);
    expect(answers.map((m) => m.seq).sort()).toEqual(sent.map((m) => m.seq).sort());
  });

  it("decodes the kernel's refusals to their errno, each answering its own request", () => {
    const answers = messagesOf(capture.refusals.in).filter((m) => m.type === NLMSG_ERROR);
    const bySeq = new Map(answers.map((m) => [m.seq, decodeError(m)]));
    const first = messagesOf(capture.refusals.out).slice(0, capture.refusals.ops.length);
    // EEXIST (add of an existing service), ESRCH (delete of a missing one), ENOENT (unknown scheduler),
    // ESRCH (real server of a missing service), EEXIST (add of an existing real server)
    expect(first.map((m) => bySeq.get(m.seq)?.errno)).toEqual([17, 3, 2, 3, 17]);
    for (const m of first) expect(bySeq.get(m.seq)?.requestSeq).toBe(m.seq);
  });

  it("reads the table through the driver from the replayed dump: the table applied, as ipvsadm -S shows it", async () => {
    const driver = await openNetlinkDriver({
      transport: async () => replay([capture.open, capture.read]),
      modprobe: false,
      timeoutMs: 1000,
    });
    expect(driver.info).toEqual(capture.info);
    const read = await driver.read();
    expect(read).toEqual(capture.read.table);
    expect(read).toEqual(sortTable(capture.desired));
    // ipvsadm's own view was taken after the refusals: the read table plus the ops of theirs that took.
    const failed = capture.refusals.ops.filter((op) => op.service.key === "tcp 192.0.2.98:80");
    const ipvsadmView = parseSave(capture.save);
    mergeThresholds(ipvsadmView, parseThresholds(capture.thresholds));
    expect(sortTable(ipvsadmView)).toEqual(tableAfterOps(read, capture.refusals.ops, failed));
    expect(driver.dropped()).toBe(0);
    driver.close();
  });
});

/**
 * A transport that answers the driver's requests with the captured answers to the same requests: the
 * n-th message sent must equal the n-th captured request (but for seq and port), and gets that one's
 * answers with their seq rewritten.
 */
function replay(recorded: Exchange[]): NetlinkTransport {
  const requests = recorded.flatMap((e) => messagesOf(e.out));
  const answers = recorded.flatMap((e) => e.in.map((d) => decodeMessages(hex(d))));
  let handler: (datagram: Buffer) => void = () => {};
  let next = 0;
  return {
    port: 4242,
    recvBufferSize: 425_984,
    onMessage: (h) => {
      handler = h;
    },
    onError: () => {},
    close: () => {},
    send(datagram, done) {
      done();
      for (const message of decodeMessages(Buffer.concat(datagram))) {
        const captured = requests[next++];
        if (captured === undefined) throw new Error("replay: more requests than were captured");
        expect(message.payload.toString("hex")).toBe(captured.payload.toString("hex"));
        expect([message.type, message.flags]).toEqual([captured.type, captured.flags]);
        for (const group of answers.filter((g) => g.some((m) => m.seq === captured.seq))) {
          const patched = group.map((m) => ({ ...m, seq: message.seq, pid: 4242 }));
          queueMicrotask(() => handler(reframe(patched)));
          if (group.some((m) => m.type === NLMSG_DONE || m.type === NLMSG_ERROR)) break;
        }
      }
    },
  };
}
