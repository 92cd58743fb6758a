import type { HttpCheckConfig } from "@lvsq/config";
import type { Dispatcher } from "undici";
import { Client } from "./undici-client.js";
import { type Connector, ConnectorCache } from "./connectors.js";
import { deadlineVerdict } from "./deadline.js";
import type { FileCache } from "./files.js";
import { type CheckResult, type Verdict, errorMessage, makeResult } from "./result.js";
import { classifyHttpError, type HttpPhase } from "./http-errors.js";
import { type CheckTarget, formatAuthority, splitEndpoint } from "./target.js";

/** The body regex sees at most this much; reading stops there. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** Passed to `Client.destroy()` once a check has its verdict: a preallocated error, so no stack is captured. */
const CHECK_FINISHED = new Error("lvsq check finished");
const ignore = (): void => {};

type Prepared = { headers: Record<string, string>; bodyPattern: RegExp | undefined };

/**
 * Runs http and https checks. One instance per runner holds the caches (connectors, CA files, compiled
 * regexes); every check still opens a fresh connection of its own (one undici `Client`, destroyed as soon as
 * the verdict is known) and never reuses a pooled keep-alive socket.
 */
export class HttpChecker {
  readonly #connectors: ConnectorCache;
  readonly #prepared = new WeakMap<HttpCheckConfig, Prepared>();

  constructor(files?: FileCache) {
    this.#connectors = new ConnectorCache(files);
  }

  async run(check: HttpCheckConfig, target: CheckTarget, signal?: AbortSignal): Promise<CheckResult> {
    const startedAt = performance.now();
    const endpoint = splitEndpoint(target.address, check.port);
    if ("error" in endpoint) return makeResult("abstain", startedAt, endpoint.error);
    let connector = this.#connectors.get(check, target.bind?.port);
    if (connector instanceof Promise) {
      const loaded = await connector;
      if ("error" in loaded) return makeResult("abstain", startedAt, loaded.error);
      connector = loaded;
    }
    const prepared = this.#prepare(check);
    if ("error" in prepared) return makeResult("abstain", startedAt, prepared.error);
    const origin = `${check.type}://${formatAuthority(endpoint)}`;
    return new Promise((resolve) => {
      const localAddress = target.bind?.address;
      attempt({ check, origin, connector, localAddress, prepared, startedAt, signal, resolve });
    });
  }

  #prepare(check: HttpCheckConfig): Prepared | { error: string } {
    const cached = this.#prepared.get(check);
    if (cached) return cached;
    let bodyPattern: RegExp | undefined;
    try {
      bodyPattern = check.expectBody === undefined ? undefined : new RegExp(check.expectBody);
    } catch (error) {
      return { error: `expectBody is not a regular expression: ${errorMessage(error)}` };
    }
    const headers = { ...check.headers };
    if (check.host !== undefined) headers.host = check.host;
    const prepared = { headers, bodyPattern };
    this.#prepared.set(check, prepared);
    return prepared;
  }
}

type Attempt = {
  check: HttpCheckConfig;
  origin: string;
  connector: Connector;
  /** The source address (undici overrides one given to the connector with the client's own). */
  localAddress: string | undefined;
  prepared: Prepared;
  startedAt: number;
  signal: AbortSignal | undefined;
  resolve: (result: CheckResult) => void;
};

function attempt({
  check,
  origin,
  connector,
  localAddress,
  prepared,
  startedAt,
  signal,
  resolve,
}: Attempt): void {
  const { timeoutMs } = check;
  let phase: HttpPhase = "connect";
  let settled = false;
  let statusCode = 0;
  let bodyBytes = 0;
  const bodyChunks: Buffer[] = [];
  let client: Client;
  try {
    // undici's own timeouts are only a backstop, later than the check's deadline below, which tells a
    // stalled probe from a slow server.
    client = new Client(origin, {
      connect: connector,
      ...(localAddress !== undefined ? { localAddress } : {}),
      headersTimeout: timeoutMs * 2,
      bodyTimeout: timeoutMs * 2,
    });
  } catch (error) {
    resolve(makeResult("abstain", startedAt, `invalid request: ${errorMessage(error)}`));
    return;
  }

  const finish = (verdict: Verdict, reason: string, detail?: string): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    client.destroy(CHECK_FINISHED, ignore);
    resolve(makeResult(verdict, startedAt, reason, detail === undefined ? undefined : { detail }));
  };
  // One deadline for the whole exchange; a deadline that fires late is the probe's own stall (deadline.ts).
  const armedAt = performance.now();
  const timer = setTimeout(() => finish(...deadlineVerdict(timeoutMs, armedAt, phase)), timeoutMs);
  const onAbort = (): void => finish("abstain", "cancelled");
  if (signal?.aborted) {
    onAbort();
    return;
  }
  signal?.addEventListener("abort", onAbort, { once: true });

  const judgeBody = (): void => {
    const pattern = prepared.bodyPattern;
    const body = pattern ? Buffer.concat(bodyChunks).toString("utf8", 0, BODY_LIMIT_BYTES) : "";
    if (!pattern || pattern.test(body)) finish("up", `HTTP ${statusCode}`);
    else finish("down", `body did not match /${pattern.source}/`, body);
  };

  const handler: Dispatcher.DispatchHandler = {
    onRequestStart() {
      phase = "headers";
    },
    onResponseStart(_controller, status) {
      if (status < 200) return; // 1xx: the final status follows.
      statusCode = status;
      phase = "body";
      if (!isExpected(status, check.expectStatus)) finish("down", `HTTP ${status}`);
    },
    onResponseData(_controller, chunk) {
      if (settled) return;
      const room = BODY_LIMIT_BYTES - bodyBytes;
      bodyBytes += chunk.length;
      // The socket's buffer may be reused: keep a copy, and only when a pattern will read it.
      if (prepared.bodyPattern) bodyChunks.push(Buffer.from(chunk.subarray(0, room)));
      if (bodyBytes >= BODY_LIMIT_BYTES) judgeBody();
    },
    onResponseEnd() {
      judgeBody();
    },
    onResponseError(_controller, error) {
      const [verdict, reason] = classifyHttpError(error, phase, timeoutMs);
      finish(verdict, reason);
    },
  };
  try {
    client.dispatch(
      { origin, path: check.path, method: check.method, headers: prepared.headers, reset: false },
      handler,
    );
  } catch (error) {
    finish("abstain", `invalid request: ${errorMessage(error)}`);
  }
}

function isExpected(status: number, ranges: ReadonlyArray<readonly [number, number]>): boolean {
  for (const [low, high] of ranges) if (status >= low && status <= high) return true;
  return false;
}
