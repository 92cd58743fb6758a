import { type IpvsTable, KERNEL_SCHEDULERS, sortTable, type VirtualServiceEntry } from "@lvsq/protocol";

export { KERNEL_SCHEDULERS };
import { normalizeServer, normalizeSettings, sameServer, sameSettings } from "./normalize.js";
import { type IpvsOp, opServerAddress } from "./ops.js";

export type KernelModelOptions = { schedulers?: readonly string[]; persistenceEngines?: readonly string[] };

/**
 * Applies one op to `table` (mutated) the way the kernel does, returning ipvsadm's error text on a
 * refused write. Used by the memory driver and by tests as the reference model of the kernel.
 */
export function applyOpToTable(
  table: IpvsTable,
  op: IpvsOp,
  options: KernelModelOptions = {},
): string | undefined {
  const schedulers: readonly string[] = options.schedulers ?? KERNEL_SCHEDULERS;
  const engines = options.persistenceEngines ?? ["sip"];
  const index = table.services.findIndex((s) => s.key === op.service.key);
  const service = table.services[index];
  switch (op.type) {
    case "add-service":
    case "edit-service": {
      if (op.type === "add-service" && service !== undefined) return "Service already exists";
      if (op.type === "edit-service" && service === undefined) return "No such service";
      const pe = op.service.persistenceEngine;
      if (!schedulers.includes(op.service.scheduler) || (pe !== undefined && !engines.includes(pe))) {
        return "Scheduler or persistence engine not found";
      }
      const entry: VirtualServiceEntry = {
        ...normalizeSettings(op.service),
        realServers: service?.realServers ?? [],
      };
      if (service === undefined) table.services.push(entry);
      else table.services[index] = entry;
      return undefined;
    }
    case "delete-service":
      if (service === undefined) return "No such service";
      table.services.splice(index, 1);
      return undefined;
    default: {
      if (service === undefined) return "Service not defined";
      const address = opServerAddress(op);
      const at = service.realServers.findIndex((rs) => rs.address === address);
      if (op.type === "add-server") {
        if (at >= 0) return "Destination already exists";
        service.realServers.push(normalizeServer(op.server));
      } else if (at < 0) {
        return "No such destination";
      } else if (op.type === "edit-server") {
        service.realServers[at] = normalizeServer(op.server);
      } else {
        service.realServers.splice(at, 1);
      }
      return undefined;
    }
  }
}

/**
 * The ops whose effect is not in `table`, judged by the last op on each service or real server
 * (its postcondition: present and equal after add/edit, absent after delete). An add that met an
 * identical existing entry, or a delete of an absent one, took; an earlier op on the same entity
 * shares the fate of the last one.
 */
export function opsNotTaken(ops: readonly IpvsOp[], table: IpvsTable): IpvsOp[] {
  const services = new Map(table.services.map((s) => [s.key, s]));
  const lastByEntity = new Map<string, IpvsOp>();
  const entity = (op: IpvsOp) => `${op.service.key}\u0000${opServerAddress(op) ?? ""}`;
  for (const op of ops) lastByEntity.set(entity(op), op);
  const failed = new Set<string>();
  for (const [id, op] of lastByEntity) if (!holds(op, services)) failed.add(id);
  return ops.filter((op) => failed.has(entity(op)));
}

function holds(op: IpvsOp, services: Map<string, VirtualServiceEntry>): boolean {
  const service = services.get(op.service.key);
  switch (op.type) {
    case "add-service":
    case "edit-service":
      return service !== undefined && sameSettings(op.service, service);
    case "delete-service":
      return service === undefined;
    case "add-server":
    case "edit-server": {
      const found = service?.realServers.find((rs) => rs.address === op.server.address);
      return found !== undefined && sameServer(op.server, found);
    }
    case "delete-server":
      return service === undefined || !service.realServers.some((rs) => rs.address === op.address);
  }
}

export function cloneTable(table: IpvsTable): IpvsTable {
  return sortTable(structuredClone(table));
}

/**
 * `table` after a batch in which every op took except `notApplied`: each op's postcondition written in
 * (present with its settings after add/edit, absent after delete). For drivers that know each op's fate
 * (netlink), so a partly failed apply needs no re-read to know the kernel's state.
 */
export function tableAfterOps(
  table: IpvsTable,
  ops: readonly IpvsOp[],
  notApplied: readonly IpvsOp[],
): IpvsTable {
  const failed = new Set(notApplied);
  const services = new Map(structuredClone(table).services.map((s) => [s.key, s]));
  for (const op of ops) {
    if (failed.has(op)) continue;
    const service = services.get(op.service.key);
    switch (op.type) {
      case "add-service":
      case "edit-service":
        services.set(op.service.key, {
          ...normalizeSettings(op.service),
          realServers: service?.realServers ?? [],
        });
        break;
      case "delete-service":
        services.delete(op.service.key);
        break;
      default: {
        if (service === undefined) break;
        const address = opServerAddress(op);
        service.realServers = service.realServers.filter((rs) => rs.address !== address);
        if (op.type !== "delete-server") service.realServers.push(normalizeServer(op.server));
      }
    }
  }
  return sortTable({ services: [...services.values()] });
}
