import type { RealServerEntry } from "@lvsq/protocol";
import type { StepContext } from "./decide.js";
import { decideWeightQuorum } from "./weight-quorum.js";
import {
  ADMIN_DISABLE,
  ADMIN_DRAIN,
  compareAddress,
  HEALTH_UP,
  realServerEntry,
  type ServiceState,
} from "./model.js";

/**
 * The weight a real server gets in the desired table, or -1 when it is out:
 *
 *   | admin    | health | onDown   | startup grace & found in kernel | result            |
 *   |----------|--------|----------|---------------------------------|-------------------|
 *   | disable  | any    | any      | any                             | out               |
 *   | drain    | any    | any      | any                             | in, weight 0      |
 *   | none     | up     | any      | any                             | in, up weight     |
 *   | none     | down   | quiesce  | any                             | in, weight 0      |
 *   | none     | down   | remove   | yes                             | in, kernel weight |
 *   | none     | down   | remove   | no                              | out               |
 */
export function effectiveWeight(svc: ServiceState, rs: number, inGrace: boolean): number {
  const admin = svc.admin[rs];
  if (admin === ADMIN_DISABLE) return -1;
  if (admin === ADMIN_DRAIN) return 0;
  if (svc.health[rs] === HEALTH_UP) return svc.upWeight[rs]!;
  if (svc.config.onDown === "quiesce") return 0;
  return inGrace ? svc.kernelWeight[rs]! : -1;
}

/**
 * Fallback servers go in when no real server carries weight and out as soon as one does; with minUpWeight
 * (keepalived's quorum + hysteresis) in below `weight - hysteresis`, out at `weight + hysteresis` or more.
 */
function decideFallback(
  ctx: StepContext,
  svc: ServiceState,
  healthyWeight: number,
  upServers: number,
  replaced: boolean,
): void {
  if (svc.fallbackEntries.length === 0) return;
  const min = svc.config.minUpWeight;
  let wanted: boolean;
  // With weightQuorum the fallback is in exactly while the quorum is lost (weight-quorum.ts).
  if (svc.config.weightQuorum !== undefined) wanted = replaced;
  else if (min === undefined) wanted = healthyWeight === 0;
  else if (svc.fallbackActive) wanted = healthyWeight < min.weight + min.hysteresis;
  else wanted = healthyWeight < min.weight - min.hysteresis;
  if (wanted === svc.fallbackActive) return;
  svc.fallbackActive = wanted;
  ctx.events.push({
    type: wanted ? "fallback-on" : "fallback-off",
    service: svc.id,
    healthyWeight,
    upServers,
    minUpWeight: min?.weight ?? null,
    hysteresis: min?.hysteresis ?? 0,
    servers: svc.fallbackEntries.map((fb) => fb.address),
  });
}

function sameEntries(a: readonly RealServerEntry[], b: readonly RealServerEntry[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Rebuilds one service's desired entry. Entry objects of unchanged real servers are reused, and the
 * service entry itself is replaced only when its list changed, so callers compare with `===`.
 */
export function rebuildService(ctx: StepContext, svc: ServiceState): boolean {
  const { effective, order } = svc;
  let healthyWeight = 0;
  let upServers = 0;
  for (let rs = 0; rs < effective.length; rs++) {
    const weight = effectiveWeight(svc, rs, ctx.inGrace);
    effective[rs] = weight;
    if (weight > 0) {
      healthyWeight += weight;
      upServers++;
    }
  }
  const replaced = decideWeightQuorum(ctx, svc, healthyWeight, upServers);
  decideFallback(ctx, svc, healthyWeight, upServers, replaced);
  const list: RealServerEntry[] = [];
  for (let k = 0; k < order.length; k++) {
    const index = order[k]!;
    if (index < 0) {
      const fb = ~index;
      if (svc.fallbackActive || (ctx.inGrace && svc.fallbackInKernel[fb]))
        list.push(svc.fallbackEntries[fb]!);
      continue;
    }
    const weight = effective[index]!;
    if (weight < 0 || (replaced && weight > 0)) continue;
    let entry = svc.rsEntries[index];
    if (entry === undefined || entry.weight !== weight) {
      entry = realServerEntry(svc.config.realServers[index]!, weight);
      svc.rsEntries[index] = entry;
    }
    list.push(entry);
  }
  if (ctx.inGrace && svc.kernelExtras.length > 0) {
    list.push(...svc.kernelExtras);
    list.sort(compareAddress);
  }
  if (svc.entry !== undefined && sameEntries(list, svc.entry.realServers)) return false;
  svc.entry = { ...svc.base, realServers: list };
  return true;
}
