import type { IcmpCheckConfig } from "@lvsq/config";
import { execa } from "execa";
import { type CheckResult, makeResult } from "./result.js";
import { type CheckTarget, splitEndpoint } from "./target.js";

/**
 * One ICMP echo through the system's `ping` (iputils), because Node has no ICMP socket and the npm
 * packages that add one are unmaintained native addons that need root (docs/checks.md#icmp). iputils
 * `ping` uses an unprivileged ICMP datagram socket where `net.ipv4.ping_group_range` admits the probe's
 * group, else its `cap_net_raw` file capability (Debian sets it), else it needs root; when it cannot open
 * a socket at all, the check abstains and says so.
 *
 *   | ping                                       | verdict  | reason                                 |
 *   |--------------------------------------------|----------|----------------------------------------|
 *   | exit 0 (a reply)                           | up       | `echo reply in 0.05 ms`                |
 *   | exit 1 (no reply by the deadline)          | down     | `no echo reply within 1000 ms`         |
 *   | cannot open a socket (EPERM / EACCES)      | abstain  | `ping cannot open an ICMP socket: …`   |
 *   | not installed                              | abstain  | `ping not found (apt-get install …)`   |
 *   | any other failure (no route, bad address)  | abstain  | ping's own message                     |
 */
export async function runIcmpCheck(
  check: IcmpCheckConfig,
  target: CheckTarget,
  ping: string,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const startedAt = performance.now();
  // Any port will do: only the host is pinged (a fwmark service's real server may have none).
  const endpoint = splitEndpoint(target.address, 1);
  if ("error" in endpoint) return makeResult("abstain", startedAt, endpoint.error);
  if (signal?.aborted) return makeResult("abstain", startedAt, "cancelled");
  const waitS = Math.max(0.001, check.timeoutMs / 1000).toFixed(3);
  const args = [endpoint.family === 6 ? "-6" : "-4", "-n", "-q", "-c", "1", "-W", waitS, endpoint.host];
  const result = await execa(ping, args, {
    reject: false,
    all: true,
    stdin: "ignore",
    timeout: check.timeoutMs + 500,
    forceKillAfterDelay: 200,
    maxBuffer: 64 * 1024,
    env: { LC_ALL: "C" },
    ...(signal ? { cancelSignal: signal } : {}),
  });
  const output = typeof result.all === "string" ? result.all : "";
  if (result.isCanceled) return makeResult("abstain", startedAt, "cancelled");
  if (result.code === "ENOENT") {
    return makeResult("abstain", startedAt, `ping not found: ${ping} (apt-get install iputils-ping)`);
  }
  if (result.code === "EACCES") return makeResult("abstain", startedAt, `ping not executable: ${ping}`);
  if (result.timedOut) return makeResult("down", startedAt, `no echo reply within ${check.timeoutMs} ms`);
  if (result.exitCode === 0) {
    const rtt = /= [\d.]+\/([\d.]+)\//.exec(output)?.[1];
    return makeResult("up", startedAt, rtt ? `echo reply in ${rtt} ms` : "echo reply");
  }
  if (result.exitCode === 1) {
    return makeResult("down", startedAt, `no echo reply within ${check.timeoutMs} ms`, {
      detail: lastLine(output),
    });
  }
  if (/operation not permitted|permission denied|socktype|socket:/i.test(output)) {
    return makeResult(
      "abstain",
      startedAt,
      `ping cannot open an ICMP socket: allow ping sockets (sysctl net.ipv4.ping_group_range) or give ping cap_net_raw`,
      { detail: output },
    );
  }
  return makeResult(
    "abstain",
    startedAt,
    `ping failed: ${lastLine(output) || `exit ${result.exitCode ?? result.signal}`}`,
  );
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1)?.trim() ?? "";
}
