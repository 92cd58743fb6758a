import { canonicalRealServer, type IpvsTable, type VirtualServiceEntry } from "@lvsq/protocol";
import { type StepContext, touch } from "./decide.js";
import { HEALTH_DOWN, HEALTH_UP, ruleCode, type ServiceState, VERDICT_NONE } from "./model.js";

/** Looks a real server up by its configured spelling, then by its canonical one. */
export function findRealServer(svc: ServiceState, address: string): number | undefined {
  const exact = svc.rsIndex.get(address);
  if (exact !== undefined) return exact;
  const canonical = canonicalRealServer(address);
  return canonical === undefined ? undefined : svc.rsIndex.get(canonical);
}

/**
 * Startup: the kernel table is the current state of every owned service not adopted yet. A real server
 * already decided by quorum keeps its verdict; one found in the kernel is up at the weight found (weight 0
 * counts as down, quiesced); services missing from the kernel are created. Services the config does not own
 * are ignored: they never reach the desired table.
 */
export function adoptKernel(ctx: StepContext, table: IpvsTable): void {
  const pending = ctx.state.byKey.filter((svc) => !svc.adopted);
  if (pending.length === 0) return;
  const found = new Map<string, VirtualServiceEntry>();
  for (const entry of table.services) found.set(entry.key, entry);
  for (const svc of pending) {
    svc.adopted = true;
    touch(ctx, svc, true);
    // What the kernel has is the current state: the fallback is in only if it was found there.
    svc.fallbackActive = false;
    const entry = found.get(svc.key);
    if (entry === undefined) {
      ctx.events.push({ type: "service-created", service: svc.id, key: svc.key });
      continue;
    }
    svc.foundInKernel = true;
    const fallbackAddresses = svc.fallbackEntries.map((fb) => fb.address);
    for (const kernelRs of entry.realServers) {
      const address = canonicalRealServer(kernelRs.address) ?? kernelRs.address;
      const fb = fallbackAddresses.indexOf(address);
      if (fb >= 0) {
        svc.fallbackInKernel[fb] = true;
        svc.fallbackActive = true;
        continue;
      }
      const rs = findRealServer(svc, address);
      if (rs === undefined) {
        svc.kernelExtras.push(kernelRs);
        continue;
      }
      svc.kernelWeight[rs] = kernelRs.weight;
      if (svc.verdict[rs] !== VERDICT_NONE) continue;
      svc.health[rs] = kernelRs.weight > 0 ? HEALTH_UP : HEALTH_DOWN;
      if (kernelRs.weight > 0) svc.upWeight[rs] = kernelRs.weight;
      svc.rule[rs] = ruleCode("kernel-adopted");
      svc.changedAt[rs] = ctx.now;
    }
  }
}
