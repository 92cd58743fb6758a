import { endpoint, type ImportNote, type ImportResult, quorumFor, serviceId } from "./common.js";
import { convertVirtualServer, protocolOf, type Vip } from "./keepalived-service.js";
import { find, findAll, readKeepalived, type Statement } from "./keepalived-syntax.js";

const IGNORED_TOP = new Set([
  "vrrp_instance",
  "vrrp_sync_group",
  "vrrp_script",
  "vrrp_track_process",
  "static_ipaddress",
  "static_routes",
  "static_rules",
  "linkbeat_use_polling",
  "net_namespace",
  "bfd_instance",
]);

/**
 * `lvsq import keepalived FILE`: keepalived.conf (with its includes) as a standalone lvsq config. Each
 * virtual_server becomes a service (one per member of a virtual_server_group, since lvsq has no groups);
 * sorry_server becomes the fallback; inhibit_on_failure onDown: quiesce; quorum/hysteresis weightQuorum;
 * notify_up/down and quorum_up/down notify hooks; the first checker of the first real server the service's
 * check. Everything else is a note.
 */
export function importKeepalived(path: string): ImportResult {
  const { statements, files } = readKeepalived(path);
  const notes: ImportNote[] = [];
  const note = (service: string | undefined) => (at: Statement, text: string) =>
    notes.push({ service, at: at.at, text });
  const groups = new Map(findAll(statements, "virtual_server_group").map((g) => [g.args[0] ?? "", g]));
  const services: Record<string, unknown> = {};
  const taken = new Set<string>();
  const seenTop = new Set<string>();
  for (const statement of statements) {
    if (statement.keyword === "virtual_server") {
      for (const vip of vipsOf(statement, groups, note(undefined))) {
        const base =
          vip.fwmark !== undefined ? `fwmark-${vip.fwmark}` : `${protocolOf(statement)}-${vip.vip}`;
        const id = serviceId(taken, base);
        const service = convertVirtualServer(statement, vip, note(id));
        if (service) services[id] = service;
      }
    } else if (statement.keyword === "global_defs" || statement.keyword === "virtual_server_group") {
      // global_defs: router_id names the cluster below; the rest is mail, SNMP and VRRP plumbing.
    } else if (!seenTop.has(statement.keyword)) {
      seenTop.add(statement.keyword);
      note(undefined)(
        statement,
        IGNORED_TOP.has(statement.keyword)
          ? `${statement.keyword}: VRRP and routing are not lvsq's job; keep them in keepalived (run it with --vrrp) or your own tooling`
          : `${statement.keyword} is not understood; skipped`,
      );
    }
  }
  const routerId = find(find(statements, "global_defs")?.block, "router_id")?.args[0];
  const cluster = (routerId ?? "imported").replace(/[^A-Za-z0-9_-]+/g, "-");
  return { config: { cluster, quorum: quorumFor(services), services }, notes, files };
}

function vipsOf(
  vs: Statement,
  groups: Map<string, Statement>,
  note: (at: Statement, text: string) => void,
): Vip[] {
  const [first, second] = vs.args;
  if (first === "fwmark") return [{ fwmark: Number(second) }];
  if (first !== "group")
    return [{ vip: endpoint(first ?? "", second === undefined ? undefined : Number(second)) }];
  const group = groups.get(second ?? "");
  if (!group) {
    note(vs, `virtual_server group ${second}: no virtual_server_group of that name; skipped`);
    return [];
  }
  note(
    vs,
    `virtual_server group ${second}: lvsq has no groups; each member is its own service with the same settings`,
  );
  return (group.block ?? []).flatMap((member): Vip[] => {
    if (member.keyword === "fwmark") {
      return [
        {
          fwmark: Number(member.args[0]),
          fromGroup: true,
          ...(member.args[1] === "inet6" ? { family: "inet6" as const } : {}),
        },
      ];
    }
    const port = member.args[0] === undefined ? undefined : Number(member.args[0]);
    return expandRange(member.keyword, member, note).map((ip) => ({
      vip: endpoint(ip, port),
      fromGroup: true,
    }));
  });
}

/** `192.0.2.3-10` → .3 to .10; plain addresses as they are; other range forms are noted and skipped. */
function expandRange(text: string, at: Statement, note: (at: Statement, text: string) => void): string[] {
  const dash = /^(\d+\.\d+\.\d+\.)(\d+)-(\d+)$/.exec(text);
  if (dash) {
    const from = Number(dash[2]);
    const to = Number(dash[3]);
    if (to < from || to > 255 || to - from > 255) return [];
    return Array.from({ length: to - from + 1 }, (_, i) => `${dash[1]}${from + i}`);
  }
  if (/[-/]/.test(text) && !text.includes(":")) {
    note(at, `address range ${text}: only the a.b.c.X-Y form is expanded; skipped`);
    return [];
  }
  return [text];
}
