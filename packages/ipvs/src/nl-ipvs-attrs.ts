import {
  decodeAttrs,
  decodeGenl,
  encodeGenl,
  type GenlMessage,
  get,
  type NlAttr,
  NetlinkDecodeError,
  put,
} from "./nl-wire.js";

/**
 * The IPVS generic-netlink family's messages as typed records (include/uapi/linux/ip_vs.h), pure. Fields
 * are written in the order the kernel writes them (ip_vs_genl_fill_service / _fill_dest), and attributes
 * this code does not know are kept in `unknown` and written back last, so a dump decoded and re-encoded
 * gives the kernel's bytes again (the fixtures test says so, byte for byte).
 */

export const IPVS_GENL_NAME = "IPVS";
export const IPVS_GENL_VERSION = 1;

export const IPVS_CMD = {
  NEW_SERVICE: 1,
  SET_SERVICE: 2,
  DEL_SERVICE: 3,
  GET_SERVICE: 4,
  NEW_DEST: 5,
  SET_DEST: 6,
  DEL_DEST: 7,
  GET_DEST: 8,
  SET_INFO: 14,
  GET_INFO: 15,
} as const;

const CMD_ATTR = { SERVICE: 1, DEST: 2 } as const;

/** `struct ip_vs_flags`: the kernel applies `flags` under `mask`; dumps carry mask ~0. */
export type IpvsFlags = { flags: number; mask: number };

/** IPVS_STATS_ATTR_* by name; values as the kernel sent them (u32 or u64, see STATS_FIELDS). */
export type IpvsStats = Partial<Record<(typeof STAT_NAMES)[number], bigint>> & { unknown?: NlAttr[] };

export type IpvsServiceAttrs = {
  af?: number;
  fwmark?: number;
  protocol?: number;
  /** 16 bytes (`union nf_inet_addr`): an IPv4 address fills the first 4. */
  addr?: Buffer;
  port?: number;
  schedName?: string;
  peName?: string;
  flags?: IpvsFlags;
  /** Persistence timeout in seconds. */
  timeout?: number;
  /** 4 raw bytes: an IPv4 mask in network order, or for IPv6 the prefix length as a host-order u32. */
  netmask?: Buffer;
  stats?: IpvsStats;
  stats64?: IpvsStats;
  unknown?: NlAttr[];
};

export type IpvsDestAttrs = {
  addr?: Buffer;
  port?: number;
  /** IP_VS_CONN_F_*: 0 masquerading (NAT), 1 local node, 2 tunnel, 3 direct routing. */
  fwdMethod?: number;
  weight?: number;
  tunType?: number;
  tunPort?: number;
  tunFlags?: number;
  uThresh?: number;
  lThresh?: number;
  activeConns?: number;
  inactConns?: number;
  persistConns?: number;
  addrFamily?: number;
  stats?: IpvsStats;
  stats64?: IpvsStats;
  unknown?: NlAttr[];
};

export type IpvsInfo = { version?: number; connTabSize?: number };

/** One IPVS message: a request we send or a message the kernel sent (a dump entry, GET_INFO's reply). */
export type IpvsMessage = {
  cmd: number;
  version: number;
  service?: IpvsServiceAttrs;
  dest?: IpvsDestAttrs;
  info?: IpvsInfo;
  unknown?: NlAttr[];
};

type Kind = "u8" | "u16" | "be16" | "u32" | "u64" | "string" | "binary" | "flags" | "stats" | "stats64";
type Field = readonly [name: string, type: number, kind: Kind];

const SERVICE_FIELDS: readonly Field[] = [
  ["af", 1, "u16"],
  ["fwmark", 5, "u32"],
  ["protocol", 2, "u16"],
  ["addr", 3, "binary"],
  ["port", 4, "be16"],
  ["schedName", 6, "string"],
  ["peName", 11, "string"],
  ["flags", 7, "flags"],
  ["timeout", 8, "u32"],
  ["netmask", 9, "binary"],
  ["stats", 10, "stats"],
  ["stats64", 12, "stats64"],
];

const DEST_FIELDS: readonly Field[] = [
  ["addr", 1, "binary"],
  ["port", 2, "be16"],
  ["fwdMethod", 3, "u32"],
  ["weight", 4, "u32"],
  ["tunType", 13, "u8"],
  ["tunPort", 14, "be16"],
  ["tunFlags", 15, "u16"],
  ["uThresh", 5, "u32"],
  ["lThresh", 6, "u32"],
  ["activeConns", 7, "u32"],
  ["inactConns", 8, "u32"],
  ["persistConns", 9, "u32"],
  ["addrFamily", 11, "u16"],
  ["stats", 10, "stats"],
  ["stats64", 12, "stats64"],
];

const INFO_FIELDS: readonly Field[] = [
  ["version", 1, "u32"],
  ["connTabSize", 2, "u32"],
];

const STAT_NAMES = [
  "conns",
  "inpkts",
  "outpkts",
  "inbytes",
  "outbytes",
  "cps",
  "inpps",
  "outpps",
  "inbps",
  "outbps",
] as const;
/** IPVS_SVC_ATTR_STATS keeps the 32-bit counters of the old struct (bytes are u64); STATS64 is all u64. */
const STATS_FIELDS: readonly Field[] = STAT_NAMES.map(
  (name, i) => [name, i + 1, name.endsWith("bytes") ? "u64" : "u32"] as const,
);
const STATS64_FIELDS: readonly Field[] = STAT_NAMES.map((name, i) => [name, i + 1, "u64"] as const);

function encodeFields(record: Record<string, unknown>, fields: readonly Field[]): NlAttr[] {
  const attrs: NlAttr[] = [];
  for (const [name, type, kind] of fields) {
    const value = record[name];
    if (value !== undefined) attrs.push(encodeValue(type, kind, value));
  }
  return [...attrs, ...((record.unknown as NlAttr[] | undefined) ?? [])];
}

function encodeValue(type: number, kind: Kind, value: unknown): NlAttr {
  switch (kind) {
    case "flags": {
      const { flags, mask } = value as IpvsFlags;
      const data = Buffer.alloc(8);
      data.writeUInt32LE(flags >>> 0, 0);
      data.writeUInt32LE(mask >>> 0, 4);
      return { type, nested: false, data };
    }
    case "stats":
      return put.nested(type, encodeFields(value as Record<string, unknown>, STATS_FIELDS));
    case "stats64":
      return put.nested(type, encodeFields(value as Record<string, unknown>, STATS64_FIELDS));
    case "u64":
      return put.u64(type, value as bigint);
    case "string":
      return put.string(type, value as string);
    case "binary":
      return put.binary(type, value as Buffer);
    default:
      return put[kind](type, value as number);
  }
}

function decodeFields(attrs: NlAttr[], fields: readonly Field[], where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const unknown: NlAttr[] = [];
  for (const attr of attrs) {
    const field = fields.find((f) => f[1] === attr.type);
    if (field === undefined) {
      unknown.push(attr);
      continue;
    }
    const [name, , kind] = field;
    const path = `${where}.${name}`;
    if (out[name] !== undefined) throw new NetlinkDecodeError(`${path}: attribute twice`);
    out[name] = decodeValue(attr, kind, path);
  }
  if (unknown.length > 0) out.unknown = unknown;
  return out;
}

function decodeValue(attr: NlAttr, kind: Kind, path: string): unknown {
  switch (kind) {
    case "flags":
      if (attr.data.length !== 8) throw new NetlinkDecodeError(`${path}: expected 8 bytes`);
      return { flags: attr.data.readUInt32LE(0), mask: attr.data.readUInt32LE(4) };
    case "stats":
      return decodeFields(decodeAttrs(attr.data, path), STATS_FIELDS, path);
    case "stats64":
      return decodeFields(decodeAttrs(attr.data, path), STATS64_FIELDS, path);
    case "binary":
      return Buffer.from(attr.data);
    default:
      return get[kind](attr, path);
  }
}

export function encodeIpvs(message: IpvsMessage): Buffer {
  const attrs: NlAttr[] = [];
  if (message.service !== undefined) {
    attrs.push(put.nested(CMD_ATTR.SERVICE, encodeFields(message.service, SERVICE_FIELDS)));
  }
  if (message.dest !== undefined) {
    attrs.push(put.nested(CMD_ATTR.DEST, encodeFields(message.dest, DEST_FIELDS)));
  }
  // GET_INFO's reply puts its attributes at the top level (ip_vs_genl_get_cmd).
  if (message.info !== undefined) attrs.push(...encodeFields(message.info, INFO_FIELDS));
  attrs.push(...(message.unknown ?? []));
  const genl: GenlMessage = { cmd: message.cmd, version: message.version, attrs };
  return encodeGenl(genl);
}

export function decodeIpvs(payload: Buffer): IpvsMessage {
  const genl = decodeGenl(payload, "ipvs");
  const message: IpvsMessage = { cmd: genl.cmd, version: genl.version };
  const unknown: NlAttr[] = [];
  const info = genl.cmd === IPVS_CMD.SET_INFO;
  for (const attr of genl.attrs) {
    if (info) {
      unknown.push(attr);
    } else if (attr.type === CMD_ATTR.SERVICE && message.service === undefined) {
      message.service = decodeFields(decodeAttrs(attr.data, "service"), SERVICE_FIELDS, "service");
    } else if (attr.type === CMD_ATTR.DEST && message.dest === undefined) {
      message.dest = decodeFields(decodeAttrs(attr.data, "dest"), DEST_FIELDS, "dest");
    } else {
      unknown.push(attr);
    }
  }
  if (info) {
    const fields = decodeFields(unknown, INFO_FIELDS, "info");
    message.info = fields;
    if (fields.unknown !== undefined) {
      message.unknown = fields.unknown as NlAttr[];
      delete (message.info as Record<string, unknown>).unknown;
    }
  } else if (unknown.length > 0) {
    message.unknown = unknown;
  }
  return message;
}

// The generic-netlink controller (GENL_ID_CTRL), for resolving the IPVS family's id once per socket.
export const GENL_ID_CTRL = 0x10;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;

export function encodeGetFamily(name: string): Buffer {
  return encodeGenl({
    cmd: CTRL_CMD_GETFAMILY,
    version: 1,
    attrs: [put.string(CTRL_ATTR_FAMILY_NAME, name)],
  });
}

export function decodeFamilyId(payload: Buffer): number {
  const reply = decodeGenl(payload, "ctrl");
  const id = reply.attrs.find((a) => a.type === CTRL_ATTR_FAMILY_ID);
  if (id === undefined) throw new NetlinkDecodeError("ctrl: reply without CTRL_ATTR_FAMILY_ID");
  return get.u16(id, "ctrl.familyId");
}
