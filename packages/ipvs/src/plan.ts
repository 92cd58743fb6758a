import type { IpvsTable, VirtualServiceEntry } from "@lvsq/protocol";
import { normalizeServer, normalizeSettings, sameServer, sameSettings } from "./normalize.js";
import { type IpvsOp, serviceRef } from "./ops.js";

/**
 * The kernel writes that turn `observed` into `desired`, for the services whose key is in `owned` only:
 * a service in either table but not owned is never touched (not even read into the plan).
 *
 * Per service, in key order:
 *   desired only   → add-service, then add-server for each real server
 *   observed only  → delete-server for each real server, then delete-service
 *   both           → edit-service (scheduler/persistence/flags differ), delete-server (gone),
 *                    edit-server (weight, forwarding, thresholds or tunnel differ: `-e` edits all of
 *                    them in place, so connections survive), add-server (new)
 * Equal tables give an empty plan; the plan of a re-read table after applying a plan is empty.
 */
export function plan(desired: IpvsTable, observed: IpvsTable, owned: ReadonlySet<string>): IpvsOp[] {
  const want = byKey(desired, owned);
  const have = byKey(observed, owned);
  const keys = [...new Set([...want.keys(), ...have.keys()])].sort();
  const ops: IpvsOp[] = [];
  for (const key of keys) {
    const d = want.get(key);
    const o = have.get(key);
    if (d !== undefined && o === undefined) {
      const { realServers, ...settings } = d;
      ops.push({ type: "add-service", service: normalizeSettings(settings) });
      const ref = serviceRef(d);
      for (const server of sortedServers(realServers)) {
        ops.push({ type: "add-server", service: ref, server: normalizeServer(server) });
      }
    } else if (d === undefined && o !== undefined) {
      const ref = serviceRef(o);
      for (const server of sortedServers(o.realServers)) {
        ops.push({ type: "delete-server", service: ref, address: server.address });
      }
      ops.push({ type: "delete-service", service: ref });
    } else if (d !== undefined && o !== undefined) {
      ops.push(...planService(d, o));
    }
  }
  return ops;
}

function planService(d: VirtualServiceEntry, o: VirtualServiceEntry): IpvsOp[] {
  const ops: IpvsOp[] = [];
  const { realServers, ...settings } = d;
  if (!sameSettings(settings, o)) ops.push({ type: "edit-service", service: normalizeSettings(settings) });
  const ref = serviceRef(d);
  const wanted = new Map(realServers.map((rs) => [rs.address, rs]));
  const present = new Map(o.realServers.map((rs) => [rs.address, rs]));
  for (const server of sortedServers(o.realServers)) {
    if (!wanted.has(server.address))
      ops.push({ type: "delete-server", service: ref, address: server.address });
  }
  const adds: IpvsOp[] = [];
  for (const server of sortedServers(realServers)) {
    const current = present.get(server.address);
    if (current === undefined)
      adds.push({ type: "add-server", service: ref, server: normalizeServer(server) });
    else if (!sameServer(server, current)) {
      ops.push({ type: "edit-server", service: ref, server: normalizeServer(server) });
    }
  }
  return [...ops, ...adds];
}

function byKey(table: IpvsTable, owned: ReadonlySet<string>): Map<string, VirtualServiceEntry> {
  const out = new Map<string, VirtualServiceEntry>();
  for (const service of table.services) if (owned.has(service.key)) out.set(service.key, service);
  return out;
}

function sortedServers<T extends { address: string }>(servers: readonly T[]): T[] {
  return [...servers].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}
