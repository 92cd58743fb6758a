import type { VoteBatch } from "@lvsq/protocol";

/**
 * For this package's tests: polls `probe` until it gives a truthy value, or throws after `timeoutMs`
 * naming what it waited for (a deadline, never a bare sleep).
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 8000,
  everyMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

let seq = 1;

/** One probe's vote batch for `service`: each real server up unless listed in `down`. */
export function voteBatch(
  at: { cluster: string; probe: string; site: string; service: string },
  realServers: readonly string[],
  down: readonly string[] = [],
): VoteBatch {
  return {
    v: 1,
    ...at,
    seq: seq++,
    sentAt: Date.now(),
    intervalMs: 1000,
    votes: realServers.map((rs) => ({
      rs,
      state: down.includes(rs) ? ("down" as const) : ("up" as const),
      since: 0,
      latencyMs: 1,
      reason: down.includes(rs) ? "connection refused" : "HTTP 200",
    })),
  };
}
