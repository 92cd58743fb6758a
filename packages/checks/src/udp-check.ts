import { createSocket } from "node:dgram";
import type { UdpCheckConfig } from "@lvsq/config";
import { payloadBytes, quote, socketVerdict, withDeadline } from "./deadline.js";
import { type CheckResult, makeResult } from "./result.js";
import { type CheckTarget, splitEndpoint } from "./target.js";

/**
 * Sends one datagram from a connected UDP socket and judges the reply. A connected socket is what makes
 * ICMP port unreachable visible: the kernel reports it as ECONNREFUSED on the socket, which is `down`.
 *
 *   | reply                          | expect / expectHex / expectRegex | verdict                  |
 *   |--------------------------------|----------------------------------|--------------------------|
 *   | a datagram that matches        | set                              | up `reply matched`       |
 *   | any datagram                   | none                             | up `reply received`      |
 *   | only datagrams that do not     | set                              | down at the deadline     |
 *   | ICMP port unreachable          | any                              | down                     |
 *   | nothing by the deadline        | requireReply: true (default)     | down `timeout … in reply`|
 *   | nothing by the deadline        | requireReply: false              | up (keepalived UDP_CHECK)|
 */
export function runUdpCheck(
  check: UdpCheckConfig,
  target: CheckTarget,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const endpoint = splitEndpoint(target.address, check.port);
  if ("error" in endpoint) return Promise.resolve(makeResult("abstain", performance.now(), endpoint.error));
  const payload = payloadBytes(check.send, check.sendHex) ?? Buffer.alloc(0);
  const expected = payloadBytes(check.expect, check.expectHex);
  let pattern: RegExp | undefined;
  try {
    pattern = check.expectRegex === undefined ? undefined : new RegExp(check.expectRegex);
  } catch {
    return Promise.resolve(
      makeResult("abstain", performance.now(), "expectRegex is not a regular expression"),
    );
  }
  const expectText =
    check.expectRegex ?? (check.expectHex === undefined ? check.expect : `hex ${check.expectHex}`);
  // Without requireReply, silence until just before the deadline is the answer: decide a little early so
  // the deadline's own `down` never wins the race.
  const silenceMs = Math.max(1, check.timeoutMs - Math.min(50, check.timeoutMs / 10));
  return withDeadline(check.timeoutMs, signal, (run) => {
    const socket = createSocket(endpoint.family === 6 ? "udp6" : "udp4");
    run.onFinish(() => socket.close());
    let last: Buffer | undefined;
    socket.on("error", (error) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ECONNREFUSED")
        run.finish("down", "ICMP port unreachable", last ? { detail: last.toString("utf8") } : undefined);
      else run.finish(...socketVerdict(error, run.phase));
    });
    socket.on("message", (message) => {
      last = message;
      if (!expected && !pattern) return run.finish("up", "reply received");
      const text = message.toString("utf8");
      if ((expected && message.includes(expected)) || pattern?.test(text)) {
        run.finish("up", "reply matched");
      } else if (!run.settled) {
        run.phase = `reply (last did not match ${quote(expectText)})`;
      }
    });
    socket.connect(endpoint.port, endpoint.host, () => {
      run.phase = "reply";
      socket.send(payload, (error) => {
        if (error) return run.finish(...socketVerdict(error, "send"));
        if (!check.requireReply) {
          const timer = setTimeout(
            () => run.finish("up", `no reply and no port unreachable within ${silenceMs} ms`),
            silenceMs,
          );
          run.onFinish(() => clearTimeout(timer));
        }
      });
    });
  });
}
