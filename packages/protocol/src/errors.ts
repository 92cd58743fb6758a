/** Closed set of error codes callers may branch on. */
export type LvsqErrorCode =
  | "config_invalid"
  | "usage"
  | "ipvsadm_failed"
  | "ipvs_netlink_failed"
  | "ipvs_unavailable"
  | "ipvs_parse"
  | "bus_unavailable"
  | "bus_timeout"
  | "lease_conflict"
  | "not_found"
  | "internal";

export class LvsqError extends Error {
  override name = "LvsqError";
  constructor(
    readonly code: LvsqErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
