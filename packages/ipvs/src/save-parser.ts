import {
  type IpvsTable,
  LvsqError,
  type Protocol,
  type RealServerEntry,
  type VirtualServiceEntry,
  virtualServiceKey,
} from "@lvsq/protocol";
import { parseIpvsAddress } from "./address.js";
import { normalizeServer, normalizeService } from "./normalize.js";

/**
 * Parses `ipvsadm -S -n` (the same syntax `ipvsadm -R` reads). Accepts every option ipvsadm writes,
 * in short or long form; blank lines and `#` comments are skipped. Anything else is an `ipvs_parse`
 * LvsqError naming the line, because a table we cannot read is a table we must not plan against.
 */
export function parseSave(text: string): IpvsTable {
  const services = new Map<string, VirtualServiceEntry>();
  const lines = text.split("\n");
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fail = (why: string): never => {
      throw new LvsqError("ipvs_parse", `ipvsadm save line ${index + 1}: ${why}: "${line}"`);
    };
    const parsed = parseLine(line.split(/\s+/), fail);
    if (parsed.type === "service") {
      if (services.has(parsed.service.key)) fail(`virtual service ${parsed.service.key} listed twice`);
      services.set(parsed.service.key, parsed.service);
      return;
    }
    const service = services.get(parsed.key) ?? fail(`real server before its virtual service ${parsed.key}`);
    if (service.realServers.some((rs) => rs.address === parsed.server.address)) {
      fail(`real server ${parsed.server.address} listed twice`);
    }
    service.realServers.push(parsed.server);
  });
  return { services: [...services.values()].map(normalizeService) };
}

type ParsedLine =
  | { type: "service"; service: VirtualServiceEntry }
  | { type: "server"; key: string; server: RealServerEntry };

const PROTOCOL_FLAGS: Record<string, Protocol> = {
  "-t": "tcp",
  "--tcp-service": "tcp",
  "-u": "udp",
  "--udp-service": "udp",
  "--sctp-service": "sctp",
};

function parseLine(tokens: string[], fail: (why: string) => never): ParsedLine {
  const command = tokens[0];
  if (command !== "-A" && command !== "-a" && command !== "--add-service" && command !== "--add-server") {
    return fail("expected -A (virtual service) or -a (real server)");
  }
  const isService = command === "-A" || command === "--add-service";
  let protocol: Protocol | undefined;
  let address: string | undefined;
  let addressFamily: "inet" | "inet6" | undefined;
  let fwmark: number | undefined;
  let ipv6 = false;
  let scheduler = "wlc";
  let schedFlags: string[] | undefined;
  let persistence: { timeoutS: number; netmask?: string } | undefined;
  let netmask: string | undefined;
  let onePacket = false;
  let persistenceEngine: string | undefined;
  const server: Partial<RealServerEntry> = {};
  let i = 1;
  const value = (option: string): string => {
    const next = tokens[++i];
    return next === undefined ? fail(`${option} needs a value`) : next;
  };
  const integer = (option: string, max = 2147483647): number => {
    const text = value(option);
    if (!/^\d+$/.test(text) || Number(text) > max) fail(`${option} expects an integer, got "${text}"`);
    return Number(text);
  };
  const onlyFor = (option: string, forService: boolean): void => {
    if (forService !== isService) fail(`${option} does not belong on a ${isService ? "-A" : "-a"} line`);
  };
  for (; i < tokens.length; i++) {
    const option = tokens[i] as string;
    const viaProtocol = PROTOCOL_FLAGS[option];
    if (viaProtocol !== undefined) {
      protocol = viaProtocol;
      const parsed = parseIpvsAddress(value(option)) ?? fail(`${option} expects ip:port or [ipv6]:port`);
      address = parsed.address;
      addressFamily = parsed.family;
      continue;
    }
    switch (option) {
      case "-f":
      case "--fwmark-service":
        fwmark = integer(option, 4294967295);
        break;
      case "-6":
      case "--ipv6":
        ipv6 = true;
        break;
      case "-s":
      case "--scheduler":
        onlyFor(option, true);
        scheduler = value(option);
        break;
      case "-b":
      case "--sched-flags":
        onlyFor(option, true);
        schedFlags = value(option).split(",");
        break;
      case "-p":
      case "--persistent": {
        onlyFor(option, true);
        const next = tokens[i + 1];
        persistence = { timeoutS: 360 };
        if (next !== undefined && /^\d+$/.test(next)) persistence.timeoutS = integer(option);
        break;
      }
      case "-M":
      case "--netmask":
        onlyFor(option, true);
        netmask = value(option);
        break;
      case "-o":
      case "--ops":
        onlyFor(option, true);
        onePacket = true;
        break;
      case "--pe":
      case "--persistence-engine":
        onlyFor(option, true);
        persistenceEngine = value(option);
        break;
      default:
        parseServerOption(option, server, { value, integer, fail, onlyFor });
    }
  }
  if ((address === undefined) === (fwmark === undefined)) {
    fail("expected exactly one of -t, -u, --sctp-service or -f");
  }
  const family = fwmark !== undefined ? (ipv6 ? "inet6" : "inet") : (addressFamily as "inet" | "inet6");
  const ref = { protocol: protocol ?? "tcp", address, fwmark, family } as const;
  const key = virtualServiceKey(ref);
  if (!isService) {
    if (server.address === undefined) fail("a real server line needs -r");
    return {
      type: "server",
      key,
      server: normalizeServer({ forwarding: "dr", weight: 1, ...server } as RealServerEntry),
    };
  }
  if (netmask !== undefined) {
    if (persistence === undefined) fail("-M applies to persistent services (-p) only");
    else persistence.netmask = netmask;
  }
  const service: VirtualServiceEntry = { key, protocol: ref.protocol, family, scheduler, realServers: [] };
  if (address !== undefined) service.address = address;
  if (fwmark !== undefined) service.fwmark = fwmark;
  if (schedFlags !== undefined) service.schedFlags = schedFlags;
  if (persistence !== undefined) service.persistence = persistence;
  if (onePacket) service.onePacket = true;
  if (persistenceEngine !== undefined) service.persistenceEngine = persistenceEngine;
  return { type: "service", service };
}

type OptionReaders = {
  value: (option: string) => string;
  integer: (option: string, max?: number) => number;
  fail: (why: string) => never;
  onlyFor: (option: string, forService: boolean) => void;
};

const FORWARDING_FLAGS: Record<string, RealServerEntry["forwarding"]> = {
  "-g": "dr",
  "--gatewaying": "dr",
  "-m": "nat",
  "--masquerading": "nat",
  "-i": "tunnel",
  "--ipip": "tunnel",
};

const CHECKSUM_FLAGS: Record<string, NonNullable<RealServerEntry["tunnelChecksum"]>> = {
  "--tun-nocsum": "nocsum",
  "--tun-csum": "csum",
  "--tun-remcsum": "remcsum",
};

function parseServerOption(option: string, server: Partial<RealServerEntry>, read: OptionReaders): void {
  const forwarding = FORWARDING_FLAGS[option];
  const checksum = CHECKSUM_FLAGS[option];
  if (forwarding !== undefined || checksum !== undefined) read.onlyFor(option, false);
  if (forwarding !== undefined) server.forwarding = forwarding;
  else if (checksum !== undefined) server.tunnelChecksum = checksum;
  else if (option === "-r" || option === "--real-server") {
    read.onlyFor(option, false);
    server.address = parseIpvsAddress(read.value(option))?.address ?? read.fail(`${option} expects ip:port`);
  } else if (option === "-w" || option === "--weight") {
    read.onlyFor(option, false);
    server.weight = read.integer(option);
  } else if (option === "-x" || option === "--u-threshold") {
    read.onlyFor(option, false);
    server.upperThreshold = read.integer(option);
  } else if (option === "-y" || option === "--l-threshold") {
    read.onlyFor(option, false);
    server.lowerThreshold = read.integer(option);
  } else if (option === "--tun-type") {
    read.onlyFor(option, false);
    const type = read.value(option);
    if (type !== "ipip" && type !== "gue" && type !== "gre") read.fail(`unknown tunnel type "${type}"`);
    server.tunnelType = type as RealServerEntry["tunnelType"];
  } else if (option === "--tun-port") {
    read.onlyFor(option, false);
    server.tunnelPort = read.integer(option, 65535);
  } else {
    read.fail(`unknown option ${option}`);
  }
}
