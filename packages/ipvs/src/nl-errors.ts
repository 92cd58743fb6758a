import { constants } from "node:os";
import { LvsqError } from "@lvsq/protocol";
import { type IpvsOp, opServerAddress } from "./ops.js";
import { renderCommands } from "./render.js";

/** One op the kernel refused, or whose answer never came (`errno` undefined, `lost` says why). */
export type OpFailure = { op: IpvsOp; errno?: number; code: string; message: string };

/**
 * A netlink apply in which some ops did not take. Every op got its own answer, so unlike ipvsadm -R
 * (one exit status for the batch) the driver knows exactly which ones: `notApplied`; every other op of
 * the batch took. `exact` is false only when answers were lost (socket error, deadline): then the ops
 * without an answer are in `notApplied` too, and the caller should re-read the table.
 */
export class IpvsNetlinkError extends LvsqError {
  override name = "IpvsNetlinkError";
  readonly failures: readonly OpFailure[];
  readonly notApplied: readonly IpvsOp[];
  readonly exact: boolean;
  readonly warnings: readonly string[];

  constructor(total: number, failures: readonly OpFailure[], exact: boolean, warnings: readonly string[]) {
    const shown = failures.slice(0, 5).map((f) => f.message);
    const more = failures.length > 5 ? ` (+${failures.length - 5} more)` : "";
    super(
      "ipvs_netlink_failed",
      `netlink apply: ${failures.length} of ${total} op(s) did not take: ${shown.join("; ")}${more}`,
    );
    this.failures = failures;
    this.notApplied = failures.map((f) => f.op);
    this.exact = exact;
    this.warnings = warnings;
  }
}

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value as number, name]),
);

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

const { EPERM, ENOENT, ESRCH, EEXIST, EINVAL, ERANGE, EAFNOSUPPORT, EOPNOTSUPP, ENOMEM } = constants.errno;

/** `tcp 192.0.2.1:80` or `tcp 192.0.2.1:80 → 198.51.100.1:80`: what an op touches. */
export function opSubject(op: IpvsOp): string {
  const rs = opServerAddress(op);
  return rs === undefined ? op.service.key : `${op.service.key} → ${rs}`;
}

const VERB: Record<IpvsOp["type"], string> = {
  "add-service": "add service",
  "edit-service": "edit service",
  "delete-service": "delete service",
  "add-server": "add real server",
  "edit-server": "edit real server",
  "delete-server": "delete real server",
};

/** The kernel's reason in ipvsadm's words where ipvsadm has them (libipvs ipvs_strerror). */
export function refusalText(op: IpvsOp, errno: number): string {
  const server = op.type.endsWith("-server");
  if (errno === ESRCH) return server ? "Service not defined" : "No such service";
  if (errno === EEXIST) return server ? "Destination already exists" : "Service already exists";
  if (errno === ENOENT) {
    if (server) return "No such destination";
    const service = op.service as { scheduler?: string; persistenceEngine?: string };
    const modules = [`ip_vs_${service.scheduler}`];
    if (service.persistenceEngine) modules.push(`ip_vs_pe_${service.persistenceEngine}`);
    return `Scheduler or persistence engine not found (is kernel module ${modules.join(" / ")} available?)`;
  }
  if (errno === EPERM) return "Permission denied (needs CAP_NET_ADMIN: run as root)";
  if (errno === EINVAL) return "Invalid argument (address not unicast, or settings this kernel refuses)";
  if (errno === ERANGE) return "Weight or threshold out of range";
  if (errno === EAFNOSUPPORT) return "Address family not supported (IPv6 without CONFIG_IP_VS_IPV6?)";
  if (errno === EOPNOTSUPP) return "Operation not supported by this kernel";
  if (errno === ENOMEM) return "Out of kernel memory";
  return "refused by the kernel";
}

/** A failure line naming the service and real server, the kernel's reason, errno and the ipvsadm twin. */
export function describeRefusal(op: IpvsOp, errno: number, note?: string): string {
  const command = renderCommands([op])[0];
  const extra = note === undefined ? "" : `; ${note}`;
  return `${opSubject(op)}: ${VERB[op.type]}: ${refusalText(op, errno)} (${errnoName(errno)}${extra}) [${command}]`;
}

/** The driver cannot talk to IPVS over netlink at all: no library, no socket, no IPVS family. */
export class IpvsUnavailableError extends LvsqError {
  override name = "IpvsUnavailableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("ipvs_unavailable", message, options);
  }
}
