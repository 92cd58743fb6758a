import type { EngineEvent } from "@lvsq/engine";
import type { Logger } from "@lvsq/runtime";

/** Log level and one-line message for an engine event: transitions are info, trouble is warn. */
export function logEvent(logger: Logger, event: EngineEvent | DirectorEvent): void {
  const { type, ...fields } = event;
  const line = { event: type, ...flatten(fields) };
  switch (type) {
    case "quorum-unreachable":
    case "weight-quorum-lost":
    case "removal-limited":
    case "stale":
    case "seq-reset":
    case "admin-rejected":
    case "apply-error":
      logger.warn(line, describe(event));
      return;
    default:
      logger.info(line, describe(event));
  }
}

/** Events the agent itself emits, beside the engine's. */
export type DirectorEvent =
  | { type: "drift-repaired"; service: string; ops: number; commands: string[] }
  | {
      type: "apply-error";
      service: string;
      ops: number;
      message: string;
      argv?: string[];
      exitCode?: number | undefined;
      stderr?: string;
    }
  | { type: "config-reloaded"; service: string; services: number }
  | { type: "config-refused"; service: string; message: string };

function describe(event: EngineEvent | DirectorEvent): string {
  switch (event.type) {
    case "rs-down":
      return `${event.service} ${event.rs} down (${event.action}): ${event.tally.down}/${event.tally.total} ${event.tally.by}s down, ${event.tally.downNeeded} needed`;
    case "rs-up":
      return `${event.service} ${event.rs} up at weight ${event.weight}: ${event.tally.up}/${event.tally.total} ${event.tally.by}s up, ${event.tally.upNeeded} needed`;
    case "fallback-on":
      return `${event.service} fallback on (${event.servers.join(", ")}): no real server up`;
    case "fallback-off":
      return `${event.service} fallback off: ${event.upServers} real server(s) up`;
    case "weight-quorum-lost":
      return `${event.service} lost quorum ${event.quorum}-${event.hysteresis}=${event.threshold} > ${event.healthyWeight}${event.fallback.length > 0 ? `: fallback ${event.fallback.join(", ")} replaces the real servers` : ""}`;
    case "weight-quorum-gained":
      return `${event.service} gained quorum ${event.quorum}+${event.hysteresis}=${event.threshold} <= ${event.healthyWeight}`;
    case "quorum-unreachable":
      return `${event.service}: ${event.realServers}/${event.total} real servers without quorum either way, kept as they are`;
    case "removal-limited":
      return `${event.service} ${event.rs} removal held back: ${event.removedInWindow}/${event.max} removals in the window`;
    case "seq-reset":
      return `${event.probe}'s seq went back from ${event.fromSeq} to ${event.toSeq} after ${event.silentMs} ms without a newer batch: ordering restarts (probe restarted with its clock behind, or an absurd seq expired)`;
    case "drift-repaired":
      return `kernel table drifted; repaired with ${event.ops} op(s)`;
    case "apply-error":
      return `ipvs apply failed (${event.ops} op(s)): ${event.message}`;
    default:
      return event.type;
  }
}

function flatten(fields: Record<string, unknown>): Record<string, unknown> {
  // Vote lists can be long; logs carry the numbers and a short vote summary, events on the bus carry all.
  const out: Record<string, unknown> = { ...fields };
  if (Array.isArray(out.votes)) {
    out.votes = (out.votes as { probe: string; site: string; state: string; ageMs: number | null }[])
      .slice(0, 16)
      .map((v) => `${v.site}/${v.probe}=${v.state}${v.ageMs === null ? "" : `@${Math.round(v.ageMs)}ms`}`);
  }
  return out;
}
