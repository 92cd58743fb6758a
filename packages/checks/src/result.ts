/** What one check says about one real server. `abstain` means "the checker could not tell". */
export type Verdict = "up" | "down" | "abstain";

/**
 * The outcome of one check: a value, never an exception. `reason` is short and human (`HTTP 503`,
 * `connect ECONNREFUSED`); `detail` carries untrusted text (a body, a script's output), at most 256 bytes.
 */
export type CheckResult = {
  verdict: Verdict;
  latencyMs: number;
  reason: string;
  /** Set by exec checks that exit 2..255 (keepalived misc_dynamic): weight = exit code − 2. */
  weight?: number;
  /** Up, but with something an operator should see soon (a certificate close to expiry). */
  warning?: boolean;
  detail?: string;
};

/** Reasons stay well under the 256-character limit of a vote on the wire. */
const MAX_REASON_CHARS = 200;
export const MAX_DETAIL_BYTES = 256;

/**
 * Errors that say the probe host itself is in trouble (out of descriptors, buffers, ports or routes, or a
 * local policy refusing the connect), not the real server: the verdict is `abstain`.
 */
const MACHINERY_ERRNOS = new Set([
  "EMFILE",
  "ENFILE",
  "ENOBUFS",
  "ENOMEM",
  "EADDRNOTAVAIL",
  "EADDRINUSE",
  "ENETUNREACH",
  "ENETDOWN",
  "EPERM",
  "EACCES",
  "EAGAIN",
]);

export function isMachineryErrno(code: string | undefined): boolean {
  return code !== undefined && MACHINERY_ERRNOS.has(code);
}

export function makeResult(
  verdict: Verdict,
  startedAt: number,
  reason: string,
  extra?: { weight?: number | undefined; detail?: string | undefined; warning?: boolean },
): CheckResult {
  const result: CheckResult = {
    verdict,
    latencyMs: Math.round((performance.now() - startedAt) * 100) / 100,
    reason: reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS - 1)}…` : reason,
  };
  if (extra?.weight !== undefined) result.weight = extra.weight;
  if (extra?.warning === true) result.warning = true;
  if (extra?.detail !== undefined && extra.detail !== "") result.detail = cutDetail(extra.detail);
  return result;
}

/** Cuts untrusted text to 256 bytes of UTF-8 without leaving half a character at the end. */
export function cutDetail(text: string | Uint8Array): string {
  const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : Buffer.from(text);
  if (bytes.length <= MAX_DETAIL_BYTES) return bytes.toString("utf8");
  let end = MAX_DETAIL_BYTES;
  // Step back over UTF-8 continuation bytes (10xxxxxx) so the cut lands on a character boundary.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8");
}

/** The `code` of an error-like value (`ECONNREFUSED`, `UND_ERR_SOCKET`), if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
