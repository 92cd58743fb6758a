import {
  canonicalIPv6,
  type Protocol,
  type RealServerEntry,
  type VirtualServiceEntry,
  virtualServiceKey,
} from "@lvsq/protocol";
import { parseIpvsAddress } from "./address.js";
import {
  IPVS_CMD,
  IPVS_GENL_VERSION,
  type IpvsDestAttrs,
  type IpvsMessage,
  type IpvsServiceAttrs,
} from "./nl-ipvs-attrs.js";
import { NetlinkDecodeError } from "./nl-wire.js";
import { normalizeServer, normalizeSettings, schedFlagBit, schedFlagName } from "./normalize.js";
import type { IpvsOp, ServiceRef, ServiceSettings } from "./ops.js";

/**
 * The table model (`@lvsq/protocol`) ↔ IPVS netlink attributes, pure. What goes into a request is what
 * ipvsadm 1.31 sends for the same command line (libipvs: full service and destination entries, flags
 * with mask ~0, netmask ~0 / 128 without persistence), so both drivers leave identical kernel state.
 */

const AF = { inet: 2, inet6: 10 } as const;
const PROTOCOL_NUMBER: Record<Protocol, number> = { tcp: 6, udp: 17, sctp: 132 };
const FWD = { nat: 0, tunnel: 2, dr: 3 } as const;
const TUN_TYPE = ["ipip", "gue", "gre"] as const;
const TUN_FLAGS = { nocsum: 0, csum: 1, remcsum: 2 } as const;

const SVC_F_PERSISTENT = 0x1;
const SVC_F_ONEPACKET = 0x4;
/** IP_VS_SVC_F_SCHED1..3 are bits 3..5: scheduler flag N is 1 << (N + 2). */
const schedFlagMask = (bit: number) => 1 << (bit + 2);

export function addressBytes(address: string): { bytes: Buffer; port: number; family: "inet" | "inet6" } {
  const parsed = parseIpvsAddress(address);
  if (parsed === undefined) throw new RangeError(`not an ip:port address: ${address}`);
  const colon = parsed.address.lastIndexOf(":");
  const host = parsed.address.slice(0, colon);
  const port = Number(parsed.address.slice(colon + 1));
  const bytes = Buffer.alloc(16);
  if (parsed.family === "inet") {
    host.split(".").forEach((octet, i) => {
      bytes[i] = Number(octet);
    });
  } else {
    ipv6Groups(host.slice(1, -1)).forEach((group, i) => {
      bytes.writeUInt16BE(group, i * 2);
    });
  }
  return { bytes, port, family: parsed.family };
}

function ipv6Groups(text: string): number[] {
  const [head = "", tail] = text.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
}

function addressText(bytes: Buffer | undefined, port: number | undefined, family: number, where: string) {
  if (bytes === undefined || port === undefined) throw new NetlinkDecodeError(`${where}: no address or port`);
  if (family === AF.inet) return `${[...bytes.subarray(0, 4)].join(".")}:${port}`;
  if (family !== AF.inet6) throw new NetlinkDecodeError(`${where}: address family ${family}`);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return `[${canonicalIPv6(groups.join(":"))}]:${port}`;
}

/** The attributes that identify a service (all that DEL_SERVICE and the destination commands need). */
export function serviceIdAttrs(service: ServiceRef): IpvsServiceAttrs {
  const attrs: IpvsServiceAttrs = { af: AF[service.family] };
  if (service.fwmark !== undefined) {
    attrs.fwmark = service.fwmark;
    return attrs;
  }
  const { bytes, port } = addressBytes(service.address ?? "");
  attrs.protocol = PROTOCOL_NUMBER[service.protocol];
  attrs.addr = bytes;
  attrs.port = port;
  return attrs;
}

/** A full service entry, as NEW_SERVICE and SET_SERVICE require. */
export function serviceAttrs(settings: ServiceSettings): IpvsServiceAttrs {
  const s = normalizeSettings(settings);
  let flags = 0;
  if (s.persistence !== undefined) flags |= SVC_F_PERSISTENT;
  if (s.onePacket) flags |= SVC_F_ONEPACKET;
  for (const name of s.schedFlags ?? []) {
    const bit = schedFlagBit(name);
    if (bit === undefined) throw new RangeError(`unknown scheduler flag ${name}`);
    flags |= schedFlagMask(bit);
  }
  const attrs: IpvsServiceAttrs = { ...serviceIdAttrs(s), schedName: s.scheduler };
  if (s.persistenceEngine !== undefined) attrs.peName = s.persistenceEngine;
  attrs.flags = { flags, mask: 0xffffffff };
  attrs.timeout = s.persistence?.timeoutS ?? 0;
  attrs.netmask = netmaskBytes(s.family, s.persistence?.netmask);
  return attrs;
}

function netmaskBytes(family: "inet" | "inet6", netmask: string | undefined): Buffer {
  const out = Buffer.alloc(4);
  if (family === "inet6") {
    out.writeUInt32LE(netmask === undefined ? 128 : Number(netmask));
  } else {
    (netmask ?? "255.255.255.255").split(".").forEach((octet, i) => {
      out[i] = Number(octet);
    });
  }
  return out;
}

export function destIdAttrs(address: string): IpvsDestAttrs {
  const { bytes, port, family } = addressBytes(address);
  return { addr: bytes, port, addrFamily: AF[family] };
}

/** A full destination entry, as NEW_DEST and SET_DEST require (thresholds 0 = none). */
export function destAttrs(server: RealServerEntry): IpvsDestAttrs {
  const s = normalizeServer(server);
  const id = destIdAttrs(s.address);
  const attrs: IpvsDestAttrs = {
    addr: id.addr,
    port: id.port,
    fwdMethod: FWD[s.forwarding],
    weight: s.weight,
  };
  if (s.forwarding === "tunnel") {
    attrs.tunType = TUN_TYPE.indexOf(s.tunnelType ?? "ipip");
    if (s.tunnelPort !== undefined) attrs.tunPort = s.tunnelPort;
    if (s.tunnelChecksum !== undefined) attrs.tunFlags = TUN_FLAGS[s.tunnelChecksum];
  }
  attrs.uThresh = s.upperThreshold ?? 0;
  attrs.lThresh = s.lowerThreshold ?? 0;
  attrs.addrFamily = id.addrFamily;
  return attrs;
}

const OP_CMD: Record<IpvsOp["type"], number> = {
  "add-service": IPVS_CMD.NEW_SERVICE,
  "edit-service": IPVS_CMD.SET_SERVICE,
  "delete-service": IPVS_CMD.DEL_SERVICE,
  "add-server": IPVS_CMD.NEW_DEST,
  "edit-server": IPVS_CMD.SET_DEST,
  "delete-server": IPVS_CMD.DEL_DEST,
};

/**
 * The one IPVS request that carries out `op`. `ids` caches each service's identifying attributes across
 * the ops of one batch (10,000 real servers of one service parse its address once).
 */
export function opMessage(op: IpvsOp, ids = new Map<string, IpvsServiceAttrs>()): IpvsMessage {
  const message: IpvsMessage = { cmd: OP_CMD[op.type], version: IPVS_GENL_VERSION };
  const id = () => {
    let attrs = ids.get(op.service.key);
    if (attrs === undefined) {
      attrs = serviceIdAttrs(op.service);
      ids.set(op.service.key, attrs);
    }
    return attrs;
  };
  switch (op.type) {
    case "add-service":
    case "edit-service":
      message.service = serviceAttrs(op.service);
      break;
    case "delete-service":
      message.service = id();
      break;
    case "add-server":
    case "edit-server":
      message.service = id();
      message.dest = destAttrs(op.server);
      break;
    case "delete-server":
      message.service = id();
      message.dest = destIdAttrs(op.address);
      break;
  }
  return message;
}

/** A service of a GET_SERVICE dump, without its real servers. */
export function serviceFromAttrs(attrs: IpvsServiceAttrs): VirtualServiceEntry {
  const family = attrs.af === AF.inet6 ? "inet6" : attrs.af === AF.inet ? "inet" : undefined;
  if (family === undefined) throw new NetlinkDecodeError(`service: address family ${attrs.af}`);
  let id: Pick<VirtualServiceEntry, "protocol" | "address" | "fwmark" | "family">;
  if (attrs.fwmark !== undefined && attrs.fwmark !== 0) {
    // A fwmark service has no protocol of its own; the model (like parseSave) calls it tcp.
    id = { protocol: "tcp", fwmark: attrs.fwmark, family };
  } else {
    const protocol = (Object.keys(PROTOCOL_NUMBER) as Protocol[]).find(
      (p) => PROTOCOL_NUMBER[p] === attrs.protocol,
    );
    if (protocol === undefined) throw new NetlinkDecodeError(`service: protocol ${attrs.protocol}`);
    id = { protocol, address: addressText(attrs.addr, attrs.port, attrs.af ?? 0, "service"), family };
  }
  const key = virtualServiceKey(id);
  if (attrs.schedName === undefined) throw new NetlinkDecodeError(`service ${key}: no scheduler`);
  const flags = attrs.flags?.flags ?? 0;
  const service: VirtualServiceEntry = { key, ...id, scheduler: attrs.schedName, realServers: [] };
  const schedFlags = [1, 2, 3].filter((bit) => flags & schedFlagMask(bit));
  if (schedFlags.length > 0)
    service.schedFlags = schedFlags.map((bit) => schedFlagName(attrs.schedName!, bit));
  if (flags & SVC_F_PERSISTENT) {
    const mask = attrs.netmask ?? Buffer.alloc(4);
    const netmask = family === "inet6" ? String(mask.readUInt32LE(0)) : [...mask].join(".");
    service.persistence = { timeoutS: attrs.timeout ?? 0, netmask };
  }
  if (flags & SVC_F_ONEPACKET) service.onePacket = true;
  if (attrs.peName !== undefined && attrs.peName !== "") service.persistenceEngine = attrs.peName;
  return normalizeService(service);
}

function normalizeService(service: VirtualServiceEntry): VirtualServiceEntry {
  return { ...normalizeSettings(service), realServers: service.realServers };
}

/** A real server of a GET_DEST dump, and its active + inactive connection count. */
export function serverFromAttrs(
  attrs: IpvsDestAttrs,
  serviceKey: string,
): { server: RealServerEntry; connections: number } {
  const where = `real server of ${serviceKey}`;
  const address = addressText(attrs.addr, attrs.port, attrs.addrFamily ?? AF.inet, where);
  // ipvsadm prints a local-node destination (IP_VS_CONN_F_LOCALNODE, 1) as -g too.
  const method = attrs.fwdMethod ?? FWD.dr;
  const forwarding = method === FWD.nat ? "nat" : method === FWD.tunnel ? "tunnel" : "dr";
  const server: RealServerEntry = { address, forwarding, weight: attrs.weight ?? 0 };
  if (attrs.uThresh) server.upperThreshold = attrs.uThresh;
  if (attrs.lThresh) server.lowerThreshold = attrs.lThresh;
  if (forwarding === "tunnel") {
    const type = TUN_TYPE[attrs.tunType ?? 0];
    if (type === undefined) throw new NetlinkDecodeError(`${where} ${address}: tunnel type ${attrs.tunType}`);
    server.tunnelType = type;
    if (type === "gue" && attrs.tunPort) server.tunnelPort = attrs.tunPort;
    if (type !== "ipip") {
      const tunFlags = attrs.tunFlags ?? 0;
      server.tunnelChecksum =
        tunFlags & TUN_FLAGS.remcsum ? "remcsum" : tunFlags & TUN_FLAGS.csum ? "csum" : "nocsum";
    }
  }
  return { server: normalizeServer(server), connections: (attrs.activeConns ?? 0) + (attrs.inactConns ?? 0) };
}
