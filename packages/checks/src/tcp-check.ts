import { connect } from "node:net";
import type { TcpCheckConfig } from "@lvsq/config";
import {
  type CheckResult,
  type Verdict,
  errorCode,
  errorMessage,
  isMachineryErrno,
  makeResult,
} from "./result.js";
import { deadlineVerdict, payloadBytes, quote } from "./deadline.js";
import { type CheckTarget, splitEndpoint } from "./target.js";

/** How much of the reply is searched for `expect`. */
export const REPLY_LIMIT_BYTES = 64 * 1024;

type TcpPhase = "connect" | "reply";

/**
 * Connects within the deadline; with `send`, writes it; with `expect`, waits for that substring in the
 * reply. Up as soon as the last step succeeds. The socket is destroyed on every path.
 */
export function runTcpCheck(
  check: TcpCheckConfig,
  target: CheckTarget,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const startedAt = performance.now();
  const endpoint = splitEndpoint(target.address, check.port);
  if ("error" in endpoint) return Promise.resolve(makeResult("abstain", startedAt, endpoint.error));
  const expected = payloadBytes(check.expect, check.expectHex);
  const sending = payloadBytes(check.send, check.sendHex);
  const expectText = check.expectHex === undefined ? check.expect : `hex ${check.expectHex}`;
  return new Promise((resolve) => {
    let phase: TcpPhase = "connect";
    let settled = false;
    let reply = Buffer.alloc(0);
    const bind = target.bind;
    const socket = connect({
      host: endpoint.host,
      port: endpoint.port,
      noDelay: true,
      ...(bind ? { localAddress: bind.address, localPort: bind.port } : {}),
    });
    const finish = (verdict: Verdict, reason: string, detail?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      // A bound source port closed with a FIN would sit in TIME_WAIT for 60 s; a reset frees it at once.
      if (bind && phase === "reply" && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
      resolve(
        makeResult(verdict, startedAt, reason, detail ? { detail: detail.toString("utf8") } : undefined),
      );
    };
    const armedAt = performance.now();
    const timer = setTimeout(
      () => finish(...deadlineVerdict(check.timeoutMs, armedAt, phase), reply),
      check.timeoutMs,
    );
    const onAbort = (): void => finish("abstain", "cancelled");
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });

    socket.on("connect", () => {
      phase = "reply";
      if (sending) {
        socket.write(sending, (error) => {
          if (error) finish(...classifySocketError(error, phase));
          else if (!expected) finish("up", "sent");
        });
      } else if (!expected) {
        finish("up", "connected");
      }
    });
    socket.on("data", (chunk: Buffer) => {
      if (!expected) return;
      reply = Buffer.concat([reply, chunk.subarray(0, REPLY_LIMIT_BYTES - reply.length)]);
      if (reply.includes(expected)) finish("up", "reply matched");
      else if (reply.length >= REPLY_LIMIT_BYTES)
        finish("down", `reply did not contain ${quote(expectText)}`, reply);
    });
    socket.on("end", () => {
      const reason = expected ? `closed before reply contained ${quote(expectText)}` : "closed in reply";
      finish("down", reason, reply);
    });
    socket.on("error", (error) => finish(...classifySocketError(error, phase)));
  });
}

function classifySocketError(error: Error, phase: TcpPhase): [Verdict, string] {
  const code = errorCode(error);
  if (code === undefined) return ["abstain", `checker error: ${errorMessage(error)}`];
  if (isMachineryErrno(code)) return ["abstain", `${phase} ${code}`];
  return ["down", phase === "connect" ? `connect ${code}` : `${code} in ${phase}`];
}
