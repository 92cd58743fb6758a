import type { IpvsTable, RealServerEntry } from "@lvsq/protocol";
import { normalizeServer, normalizeSettings } from "./normalize.js";
import type { IpvsOp, ServiceRef, ServiceSettings } from "./ops.js";

/** `-t 192.0.2.1:80`, `--sctp-service [2001:db8::1]:80`, `-f 7 -6`. */
export function serviceArgs(service: ServiceRef): string[] {
  if (service.fwmark !== undefined) {
    return service.family === "inet6" ? ["-f", String(service.fwmark), "-6"] : ["-f", String(service.fwmark)];
  }
  const flag = service.protocol === "tcp" ? "-t" : service.protocol === "udp" ? "-u" : "--sctp-service";
  return [flag, service.address ?? ""];
}

/** Service options in the order `ipvsadm -S` writes them. */
function settingsArgs(service: ServiceSettings): string[] {
  const s = normalizeSettings(service);
  const args = ["-s", s.scheduler];
  if (s.persistence !== undefined) {
    args.push("-p", String(s.persistence.timeoutS));
    if (s.persistence.netmask !== undefined) args.push("-M", s.persistence.netmask);
  }
  if (s.persistenceEngine !== undefined) args.push("--pe", s.persistenceEngine);
  if (s.onePacket) args.push("-o");
  if (s.schedFlags !== undefined) args.push("-b", s.schedFlags.join(","));
  return args;
}

const FORWARDING_FLAG = { dr: "-g", nat: "-m", tunnel: "-i" } as const;

/** Real-server options; thresholds only for `-R`/commands (`ipvsadm -S` never writes them). */
function serverArgs(server: RealServerEntry, withThresholds: boolean): string[] {
  const s = normalizeServer(server);
  const args = ["-r", s.address, FORWARDING_FLAG[s.forwarding], "-w", String(s.weight)];
  if (withThresholds && s.upperThreshold !== undefined) args.push("-x", String(s.upperThreshold));
  if (withThresholds && s.lowerThreshold !== undefined) args.push("-y", String(s.lowerThreshold));
  if (s.tunnelType !== undefined) {
    args.push("--tun-type", s.tunnelType);
    if (s.tunnelPort !== undefined) args.push("--tun-port", String(s.tunnelPort));
    if (s.tunnelChecksum !== undefined) args.push(`--tun-${s.tunnelChecksum}`);
  }
  return args;
}

/** The ipvsadm arguments of one op (without the program name). */
export function opArgs(op: IpvsOp): string[] {
  switch (op.type) {
    case "add-service":
      return ["-A", ...serviceArgs(op.service), ...settingsArgs(op.service)];
    case "edit-service":
      return ["-E", ...serviceArgs(op.service), ...settingsArgs(op.service)];
    case "delete-service":
      return ["-D", ...serviceArgs(op.service)];
    case "add-server":
      return ["-a", ...serviceArgs(op.service), ...serverArgs(op.server, true)];
    case "edit-server":
      return ["-e", ...serviceArgs(op.service), ...serverArgs(op.server, true)];
    case "delete-server":
      return ["-d", ...serviceArgs(op.service), "-r", op.address];
  }
}

/** `ipvsadm -R` input: one line per op, no comments or blank lines (-R rejects them). */
export function renderRestore(ops: readonly IpvsOp[]): string {
  return ops.map((op) => `${opArgs(op).join(" ")}\n`).join("");
}

/** Shell command lines for `--dry-run`: `ipvsadm -a -t 192.0.2.1:80 -r 192.0.2.11:80 -g -w 1`. */
export function renderCommands(ops: readonly IpvsOp[], ipvsadm = "ipvsadm"): string[] {
  return ops.map((op) => [ipvsadm, ...opArgs(op)].map(shellQuote).join(" "));
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** A table as `ipvsadm -S -n` writes it (thresholds omitted, as ipvsadm does). */
export function renderSave(table: IpvsTable): string {
  const lines: string[] = [];
  for (const service of table.services) {
    lines.push(["-A", ...serviceArgs(service), ...settingsArgs(service)].join(" "));
    for (const server of service.realServers) {
      lines.push(["-a", ...serviceArgs(service), ...serverArgs(server, false)].join(" "));
    }
  }
  return lines.map((line) => `${line}\n`).join("");
}
