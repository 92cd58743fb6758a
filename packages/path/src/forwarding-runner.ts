import { type CheckRunner, makeResult } from "@lvsq/checks";
import type { ForwardingPin, ForwardingPlan } from "@lvsq/config";
import type { PathConditions } from "./host-conditions.js";

type RunCheck = CheckRunner["run"];

export type ForwardingRunnerOptions = {
  plan: ForwardingPlan;
  source: string;
  /** The host's conditions (cached by the caller; `fresh`: read them again now). */
  conditions: (fresh?: boolean) => PathConditions;
  /** Undefined while the pins are in the kernel; otherwise why not (every check then abstains). */
  pinsProblem: () => string | undefined;
};

/**
 * Turns a check of a real server into the same check through the VIP, leaving from the source address
 * and the next port of the server's pinned block, so IPVS forwards it to that server and no other. A
 * server that cannot be pinned, or a host where the reply could not come back, gives `abstain` with the
 * reason: the probe never accuses a server of what the path check could not try.
 */
export function forwardingRunner(inner: RunCheck, options: ForwardingRunnerOptions): RunCheck {
  const pins = new Map<string, { pin: ForwardingPin; next: number }>();
  for (const pin of options.plan.pins) pins.set(`${pin.service}|${pin.checkAddress}`, { pin, next: 0 });
  const unpinned = new Map(options.plan.unpinned.map((u) => [`${u.service}|${u.checkAddress}`, u.reason]));
  return async (check, target, runOptions) => {
    const startedAt = performance.now();
    const key = `${target.service}|${target.address}`;
    const entry = pins.get(key);
    if (entry === undefined) {
      return makeResult("abstain", startedAt, unpinned.get(key) ?? "not in this probe's forwarding plan");
    }
    const { pin } = entry;
    const conditions = options.conditions();
    const problem = options.pinsProblem() ?? conditions.blocked ?? conditions.byVip.get(pin.vip);
    if (problem !== undefined) return makeResult("abstain", startedAt, problem);
    const span = pin.lastPort - pin.firstPort + 1;
    const port = pin.firstPort + (entry.next++ % span);
    const through = `${pin.vip}:${pin.port}`;
    const result = await inner(
      check,
      { ...target, address: through, bind: { address: options.source, port } },
      runOptions,
    );
    // A failure may be the host's own doing since the cached look (accept_local turned off): read again.
    if (result.verdict === "down") {
      const now = options.conditions(true);
      const cause = now.blocked ?? now.byVip.get(pin.vip);
      if (cause !== undefined) return { ...result, verdict: "abstain", reason: cause };
    }
    return { ...result, reason: `${result.reason} (through ${through})` };
  };
}
