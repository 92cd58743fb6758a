import type { AdminAction, AdminRecord } from "@lvsq/protocol";
import { type StepContext, touch } from "./decide.js";
import { ADMIN_DISABLE, ADMIN_DRAIN, ADMIN_NONE, type ServiceState } from "./model.js";
import { findRealServer } from "./observe.js";
import type { AdminCommand, EngineEvent } from "./types.js";

const ADMIN_CODES: Record<AdminAction, number> = {
  enable: ADMIN_NONE,
  drain: ADMIN_DRAIN,
  disable: ADMIN_DISABLE,
};
const ADMIN_ACTIONS: readonly AdminAction[] = ["enable", "drain", "disable"];

/**
 * drain (weight 0, connections finish) and disable (out) win over votes until enable hands the real server
 * back to its votes. Re-sending the current override changes nothing and says nothing.
 */
/** The engine's command for an operator's record (KV admin bucket, or `lvsq run`'s admin file and socket). */
export function adminCommandOf(record: AdminRecord): AdminCommand {
  return {
    service: record.service,
    rs: record.rs,
    action: record.action,
    author: record.author,
    reason: record.reason,
    ...(record.deadline !== undefined ? { deadline: record.deadline } : {}),
  };
}

export function applyAdmin(ctx: StepContext, command: AdminCommand): void {
  const { state } = ctx;
  const svc = state.services.get(command.service);
  const rs = svc === undefined ? undefined : findRealServer(svc, command.rs);
  if (svc === undefined || rs === undefined) {
    state.counters.adminRejected++;
    ctx.events.push({
      type: "admin-rejected",
      service: command.service,
      rs: command.rs,
      action: command.action,
      why: svc === undefined ? "unknown service" : "not a real server of this service",
    });
    return;
  }
  setAdmin(ctx, svc, rs, command);
}

function setAdmin(ctx: StepContext, svc: ServiceState, rs: number, command: AdminCommand): void {
  const previous = ADMIN_ACTIONS[svc.admin[rs]!]!;
  const hadDeadline = svc.adminInfo.get(rs)?.deadline !== undefined;
  const hasDeadline = command.action === "drain" && command.deadline !== undefined;
  ctx.state.drainDeadlines += (hasDeadline ? 1 : 0) - (hadDeadline ? 1 : 0);
  if (command.action === "enable") svc.adminInfo.delete(rs);
  else svc.adminInfo.set(rs, command);
  if (previous === command.action) return;
  svc.admin[rs] = ADMIN_CODES[command.action];
  touch(ctx, svc, true);
  const event: Extract<EngineEvent, { type: "admin-applied" }> = {
    type: "admin-applied",
    service: svc.id,
    rs: svc.addresses[rs]!,
    action: command.action,
    previous,
  };
  if (command.author !== undefined) event.author = command.author;
  if (command.reason !== undefined) event.reason = command.reason;
  ctx.events.push(event);
}

/** A drain with a deadline becomes a disable once the deadline passes, even if connections remain. */
export function expireDrains(ctx: StepContext): void {
  if (ctx.state.drainDeadlines === 0) return;
  for (const svc of ctx.state.byKey) {
    for (const [rs, command] of svc.adminInfo) {
      if (command.action !== "drain" || command.deadline === undefined || command.deadline > ctx.now)
        continue;
      setAdmin(ctx, svc, rs, {
        service: svc.id,
        rs: svc.addresses[rs]!,
        action: "disable",
        ...(command.author === undefined ? {} : { author: command.author }),
        reason: "drain deadline passed",
      });
    }
  }
}
