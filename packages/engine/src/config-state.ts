import type { FleetConfig } from "@lvsq/config";
import type { RealServerEntry } from "@lvsq/protocol";
import { createServiceState, type DirectorState, realServerEntry, type ServiceState } from "./model.js";
import { copyVote } from "./vote-store.js";

/**
 * Installs a config into the state. Services, real servers and probes that survive a reload keep their
 * votes, health, admin overrides and removal window, matched by service id, address and probe id.
 * Returns the services that disappeared.
 */
export function installConfig(state: DirectorState, config: FleetConfig): ServiceState[] {
  const previous = state.services;
  state.config = config;
  state.probeSites = new Map(config.probes.map((p) => [p.id, p.site]));
  for (const probe of [...state.lastSeq.keys()]) {
    if (!state.probeSites.has(probe)) state.lastSeq.delete(probe);
  }
  const services = new Map<string, ServiceState>();
  for (const serviceConfig of Object.values(config.services)) {
    const svc = createServiceState(config, serviceConfig);
    const prev = previous.get(serviceConfig.id);
    if (prev !== undefined) carryOver(prev, svc);
    services.set(svc.id, svc);
  }
  state.services = services;
  state.byKey = [...services.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  state.ownedKeys = new Set(state.byKey.map((svc) => svc.key));
  state.drainDeadlines = 0;
  for (const svc of state.byKey) {
    for (const command of svc.adminInfo.values()) if (command.deadline !== undefined) state.drainDeadlines++;
  }
  return [...previous.values()].filter((svc) => !services.has(svc.id));
}

function sameShape(a: RealServerEntry, b: RealServerEntry): boolean {
  return (
    a.forwarding === b.forwarding &&
    a.upperThreshold === b.upperThreshold &&
    a.lowerThreshold === b.lowerThreshold
  );
}

function carryOver(prev: ServiceState, svc: ServiceState): void {
  const sameKey = prev.key === svc.key;
  svc.adopted = prev.adopted && sameKey;
  svc.foundInKernel = prev.foundInKernel && sameKey;
  if (sameKey) svc.kernelExtras = prev.kernelExtras;
  if (prev.baseSignature === svc.baseSignature) svc.entry = prev.entry;
  svc.fallbackActive = prev.fallbackActive;
  if (svc.config.weightQuorum !== undefined) svc.weightQuorumUp = prev.weightQuorumUp;
  svc.fallbackEntries.forEach((fb, i) => {
    const old = prev.fallbackEntries.findIndex((o) => o.address === fb.address);
    if (old < 0) return;
    svc.fallbackInKernel[i] = prev.fallbackInKernel[old]!;
    const cached = prev.fallbackEntries[old]!;
    if (cached.weight === fb.weight && sameShape(cached, fb)) svc.fallbackEntries[i] = cached;
  });
  svc.unreachableReported = prev.unreachableReported;
  svc.removals = prev.removals.slice();
  const probeMap = svc.probeIds.map((id) => prev.probeIndex.get(id));
  svc.addresses.forEach((address, rs) => {
    const old = prev.rsIndex.get(address);
    if (old === undefined) return;
    svc.health[rs] = prev.health[old]!;
    svc.upWeight[rs] = prev.upWeight[old]!;
    svc.rule[rs] = prev.rule[old]!;
    svc.decided[rs] = prev.decided[old]!;
    svc.kernelWeight[rs] = prev.kernelWeight[old]!;
    svc.changedAt[rs] = prev.changedAt[old]!;
    svc.limitHeld[rs] = prev.limitHeld[old]!;
    svc.admin[rs] = prev.admin[old]!;
    const command = prev.adminInfo.get(old);
    if (command !== undefined) svc.adminInfo.set(rs, command);
    if (prev.held.has(old)) svc.held.add(rs);
    const cached = prev.rsEntries[old];
    if (cached !== undefined && sameShape(cached, realServerEntry(svc.config.realServers[rs]!, 0))) {
      svc.rsEntries[rs] = cached;
    }
    probeMap.forEach((oldProbe, probe) => {
      if (oldProbe === undefined) return;
      copyVote(prev.votes, old * prev.layout.probes + oldProbe, svc.votes, rs * svc.layout.probes + probe);
    });
  });
}
