import type { StepContext } from "./decide.js";
import type { ServiceState } from "./model.js";

/**
 * keepalived's quorum with hysteresis (`weightQuorum: { quorum: Q, hysteresis: H }`), over the healthy
 * weight W (the sum of the weights of real servers in the table at weight > 0):
 *
 *   | state      | condition            | new state | effect                                                   |
 *   |------------|----------------------|-----------|----------------------------------------------------------|
 *   | undecided  | kernel not read yet  | undecided | nothing: the table is what it was                        |
 *   | undecided  | W ≥ Q + H            | up        | nothing (keepalived: "Starting with quorum up")          |
 *   | undecided  | W < Q + H            | down      | `weight-quorum-lost` (initial), the fallback replaces     |
 *   | up         | W = 0 or W < Q − H   | down      | `weight-quorum-lost`, the fallback replaces the servers  |
 *   | down       | W ≥ Q + H            | up        | `weight-quorum-gained`, the real servers come back       |
 *   | otherwise  |                      | unchanged |                                                          |
 *
 * "Replaces": while the quorum is down and the service has fallback servers, the desired table holds the
 * fallback servers and no real server at weight > 0 (quiesced and drained ones, at weight 0, stay: their
 * connections finish). Without fallback servers the table is left as the votes make it; only the event (and
 * notify.quorumDown) tells. Returns whether the real servers are replaced.
 */
export function decideWeightQuorum(
  ctx: StepContext,
  svc: ServiceState,
  healthyWeight: number,
  upServers: number,
): boolean {
  const settings = svc.config.weightQuorum;
  if (settings === undefined) return false;
  const { quorum, hysteresis } = settings;
  const before = svc.weightQuorumUp;
  if (before === undefined && !svc.adopted) return false;
  let after = before;
  if (before === undefined) after = healthyWeight >= quorum + hysteresis;
  else if (before && (healthyWeight === 0 || healthyWeight < quorum - hysteresis)) after = false;
  else if (!before && healthyWeight >= quorum + hysteresis) after = true;
  svc.weightQuorumUp = after;
  const replaced = after === false && svc.fallbackEntries.length > 0;
  if (after !== before && !(before === undefined && after === true)) {
    ctx.events.push({
      type: after ? "weight-quorum-gained" : "weight-quorum-lost",
      service: svc.id,
      healthyWeight,
      upServers,
      quorum,
      hysteresis,
      threshold: after
        ? quorum + hysteresis
        : before === undefined
          ? quorum + hysteresis
          : quorum - hysteresis,
      initial: before === undefined,
      fallback: svc.fallbackEntries.map((fb) => fb.address),
    });
  }
  return replaced;
}
