import { type Verdict, errorCode, errorMessage, isMachineryErrno } from "./result.js";

/** Where an http check was when it failed: connecting (TCP and TLS), waiting for headers, reading the body. */
export type HttpPhase = "connect" | "headers" | "body";

const TLS_CODE = /CERT|SSL|TLS|SIGNATURE|ISSUER|HOSTNAME|KEY_USAGE|VERIFY/;
const TIMEOUT_PHASE: Record<string, HttpPhase> = {
  UND_ERR_CONNECT_TIMEOUT: "connect",
  UND_ERR_HEADERS_TIMEOUT: "headers",
  UND_ERR_BODY_TIMEOUT: "body",
};

/**
 * Maps an error from undici or the socket to a verdict and a short reason. The server is blamed (`down`)
 * for what it did on the wire; the probe's own trouble (no descriptors, no route, a request the config
 * made invalid, a bug) is `abstain`.
 */
export function classifyHttpError(error: unknown, phase: HttpPhase, timeoutMs: number): [Verdict, string] {
  const code = errorCode(error);
  const message = errorMessage(error);
  // undici's parser errors do not always carry their HPE_ code.
  if (error instanceof Error && error.name === "HTTPParserError") return ["down", `bad response: ${message}`];
  if (code === undefined) return ["abstain", `checker error: ${message}`];
  const timeoutPhase = TIMEOUT_PHASE[code];
  if (timeoutPhase) return ["down", `timeout after ${timeoutMs} ms in ${timeoutPhase}`];
  if (isMachineryErrno(code)) return ["abstain", `${phase} ${code}`];
  if (TLS_CODE.test(code)) return ["down", `TLS: ${message}`];
  if (code === "UND_ERR_INVALID_ARG" || code === "UND_ERR_NOT_SUPPORTED") {
    return ["abstain", `invalid request: ${message}`];
  }
  if (code === "UND_ERR_SOCKET") return ["down", `connection closed in ${phase}`];
  if (code.startsWith("HPE_") || code === "UND_ERR_RES_CONTENT_LENGTH_MISMATCH") {
    return ["down", `bad response: ${message}`];
  }
  if (code === "UND_ERR_HEADERS_OVERFLOW") return ["down", "bad response: headers too large"];
  if (/^E[A-Z0-9]+$/.test(code))
    return ["down", phase === "connect" ? `connect ${code}` : `${code} in ${phase}`];
  return ["down", `${message} in ${phase}`];
}
