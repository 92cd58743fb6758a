import { LvsqError } from "@lvsq/protocol";

/**
 * Netlink framing, pure: `nlmsghdr` (16 bytes), the generic-netlink header (4 bytes) and attributes
 * (`nlattr`: 2-byte length, 2-byte type, payload padded to 4 bytes with zeros). Netlink integers are in
 * the HOST's byte order; lvsq runs on little-endian Linux (x86-64, arm64) and the socket refuses to open
 * elsewhere (`hostIsLittleEndian`), so everything here is little-endian except what the kernel declares
 * big-endian (ports, IPv4 netmasks: `be16`/`be32` in ip_vs_ctl.c).
 */

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
/** Nested-attribute bit of `nla_type`; IPVS nests without it (`nla_nest_start_noflag`). */
export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

export const NLMSG_HDRLEN = 16;
export const GENL_HDRLEN = 4;

/** A malformed message: the socket drops and counts it, a dump that contains one fails its read. */
export class NetlinkDecodeError extends LvsqError {
  override name = "NetlinkDecodeError";
  constructor(message: string) {
    super("ipvs_parse", `netlink: ${message}`);
  }
}

export type NlAttr = { type: number; nested: boolean; data: Buffer };
export type NlMessage = { type: number; flags: number; seq: number; pid: number; payload: Buffer };
export type GenlMessage = { cmd: number; version: number; attrs: NlAttr[] };

export function hostIsLittleEndian(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
}

const align4 = (n: number) => (n + 3) & ~3;

export function encodeAttrs(attrs: readonly NlAttr[]): Buffer {
  const size = attrs.reduce((sum, a) => sum + align4(4 + a.data.length), 0);
  const out = Buffer.alloc(size);
  let at = 0;
  for (const attr of attrs) {
    const length = 4 + attr.data.length;
    if (length > 0xffff) throw new RangeError(`netlink attribute ${attr.type} too long (${length} bytes)`);
    out.writeUInt16LE(length, at);
    out.writeUInt16LE(attr.type | (attr.nested ? NLA_F_NESTED : 0), at + 2);
    attr.data.copy(out, at + 4);
    at += align4(length);
  }
  return out;
}

/** Attributes of a payload; `where` names it in errors. Copies nothing: `data` are views of `buf`. */
export function decodeAttrs(buf: Buffer, where: string): NlAttr[] {
  const attrs: NlAttr[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < 4) throw new NetlinkDecodeError(`${where}: ${buf.length - at} stray byte(s)`);
    const length = buf.readUInt16LE(at);
    const raw = buf.readUInt16LE(at + 2);
    if (length < 4 || at + length > buf.length) {
      throw new NetlinkDecodeError(`${where}: attribute ${raw & NLA_TYPE_MASK} has length ${length}`);
    }
    attrs.push({
      type: raw & NLA_TYPE_MASK,
      nested: (raw & NLA_F_NESTED) !== 0,
      data: buf.subarray(at + 4, at + length),
    });
    at = Math.min(buf.length, at + align4(length));
  }
  return attrs;
}

export function encodeMessage(message: NlMessage): Buffer {
  const out = Buffer.alloc(NLMSG_HDRLEN + message.payload.length);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt16LE(message.type, 4);
  out.writeUInt16LE(message.flags, 6);
  out.writeUInt32LE(message.seq >>> 0, 8);
  out.writeUInt32LE(message.pid >>> 0, 12);
  message.payload.copy(out, NLMSG_HDRLEN);
  return out;
}

/** Every message of one datagram (the kernel packs several dump messages into one). */
export function decodeMessages(buf: Buffer): NlMessage[] {
  const messages: NlMessage[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < NLMSG_HDRLEN) throw new NetlinkDecodeError(`${buf.length - at} stray byte(s)`);
    const length = buf.readUInt32LE(at);
    if (length < NLMSG_HDRLEN || at + length > buf.length) {
      throw new NetlinkDecodeError(`message of length ${length} in a datagram of ${buf.length - at} byte(s)`);
    }
    messages.push({
      type: buf.readUInt16LE(at + 4),
      flags: buf.readUInt16LE(at + 6),
      seq: buf.readUInt32LE(at + 8),
      pid: buf.readUInt32LE(at + 12),
      payload: buf.subarray(at + NLMSG_HDRLEN, at + length),
    });
    at += align4(length);
  }
  return messages;
}

export function encodeGenl(message: GenlMessage): Buffer {
  const head = Buffer.from([message.cmd, message.version, 0, 0]);
  return Buffer.concat([head, encodeAttrs(message.attrs)]);
}

export function decodeGenl(payload: Buffer, where: string): GenlMessage {
  if (payload.length < GENL_HDRLEN) throw new NetlinkDecodeError(`${where}: no generic netlink header`);
  return {
    cmd: payload[0] as number,
    version: payload[1] as number,
    attrs: decodeAttrs(payload.subarray(GENL_HDRLEN), where),
  };
}

/** NLMSG_ERROR's payload: 0 is an ACK, otherwise a negative errno; then the request's header (and more). */
export function decodeError(message: NlMessage): { errno: number; requestSeq: number } {
  if (message.payload.length < 4 + NLMSG_HDRLEN) throw new NetlinkDecodeError("short NLMSG_ERROR");
  return { errno: -message.payload.readInt32LE(0), requestSeq: message.payload.readUInt32LE(4 + 8) };
}

// Typed attribute values (host order = little-endian, see the module comment).
export const put = {
  u8: (type: number, v: number): NlAttr => ({ type, nested: false, data: Buffer.from([v & 0xff]) }),
  u16: (type: number, v: number): NlAttr => attr(type, 2, (b) => b.writeUInt16LE(v)),
  be16: (type: number, v: number): NlAttr => attr(type, 2, (b) => b.writeUInt16BE(v)),
  u32: (type: number, v: number): NlAttr => attr(type, 4, (b) => b.writeUInt32LE(v >>> 0)),
  u64: (type: number, v: bigint): NlAttr => attr(type, 8, (b) => b.writeBigUInt64LE(v)),
  string: (type: number, v: string): NlAttr => ({ type, nested: false, data: Buffer.from(`${v}\0`) }),
  binary: (type: number, v: Uint8Array): NlAttr => ({ type, nested: false, data: Buffer.from(v) }),
  nested: (type: number, attrs: readonly NlAttr[]): NlAttr => ({
    type,
    nested: false,
    data: encodeAttrs(attrs),
  }),
};

function attr(type: number, size: number, write: (b: Buffer) => void): NlAttr {
  const data = Buffer.alloc(size);
  write(data);
  return { type, nested: false, data };
}

/** Readers that check the attribute's size; `where` is the attribute's path for the error. */
export const get = {
  u8: (a: NlAttr, where: string) => sized(a, 1, where).readUInt8(0),
  u16: (a: NlAttr, where: string) => sized(a, 2, where).readUInt16LE(0),
  be16: (a: NlAttr, where: string) => sized(a, 2, where).readUInt16BE(0),
  u32: (a: NlAttr, where: string) => sized(a, 4, where).readUInt32LE(0),
  u64: (a: NlAttr, where: string) => sized(a, 8, where).readBigUInt64LE(0),
  string(a: NlAttr, where: string): string {
    const end = a.data.indexOf(0);
    if (end < 0) throw new NetlinkDecodeError(`${where}: string without its NUL`);
    if (end !== a.data.length - 1) throw new NetlinkDecodeError(`${where}: bytes after the string's NUL`);
    return a.data.subarray(0, end).toString("latin1");
  },
};

function sized(a: NlAttr, size: number, where: string): Buffer {
  if (a.data.length !== size) {
    throw new NetlinkDecodeError(`${where}: expected ${size} byte(s), got ${a.data.length}`);
  }
  return a.data;
}
