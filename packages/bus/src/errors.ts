import { LvsqError } from "@lvsq/protocol";

/** A compare-and-set lost: `create` on an existing key, or `update` with a stale revision. */
export class KvConflictError extends LvsqError {
  override name = "KvConflictError";
  constructor(
    readonly bucket: string,
    readonly key: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("lease_conflict", `${bucket}/${key}: ${message}`, options);
  }
}

export function isKvConflict(error: unknown): error is KvConflictError {
  return error instanceof KvConflictError;
}

export function busUnavailable(what: string, cause?: unknown): LvsqError {
  const suffix = cause instanceof Error ? `: ${cause.message}` : "";
  return new LvsqError("bus_unavailable", `${what}: bus not available${suffix}`, { cause });
}
