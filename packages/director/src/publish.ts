import type { Bus } from "@lvsq/bus";
import type { EngineEvent } from "@lvsq/engine";
import { type DirectorRole, type EventEnvelope, subjects } from "@lvsq/protocol";
import type { Logger } from "@lvsq/runtime";
import { type DirectorEvent, logEvent } from "./events.js";
import { logPairEvent, type PairEvent } from "./pair-events.js";

export type AnyDirectorEvent = EngineEvent | DirectorEvent | PairEvent;

const PAIR_EVENTS = new Set<string>(["leader-changed", "lease-lost", "isolated", "rejoined"]);
function isPairEvent(event: { type: string }): event is PairEvent {
  return PAIR_EVENTS.has(event.type);
}

/** Logs an event and publishes it on `lvsq.<cluster>.events.<service>` (`_director` for agent-wide ones). */
export function publishEvent(
  bus: Bus,
  logger: Logger,
  source: { cluster: string; director: string; at: number },
  event: AnyDirectorEvent,
): void {
  if (isPairEvent(event)) logPairEvent(logger, event);
  else logEvent(logger, event);
  const envelope: EventEnvelope = {
    v: 1,
    cluster: source.cluster,
    director: source.director,
    service: event.service,
    at: source.at,
    event: event as EventEnvelope["event"],
  };
  bus.publish(subjects.events(source.cluster, event.service === "*" ? "_director" : event.service), envelope);
}

/** One log line when the role changes: an operator learns from the log that the director is isolated. */
export class RoleLog {
  private last: DirectorRole | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly onChange?: (role: DirectorRole, previous: DirectorRole | undefined) => void,
  ) {}

  note(role: DirectorRole): void {
    if (role === this.last) return;
    const previous = this.last;
    this.last = role;
    this.onChange?.(role, previous);
    if (role === "isolated") {
      this.logger.warn(
        { role, previous },
        "director isolated: cut off from NATS, keeping the kernel table as it is",
      );
    } else {
      this.logger.info({ role, previous }, `director role: ${role}`);
    }
  }
}

/** Vote messages the bus refused before they reached the engine (bad JSON, schema failures). */
export function busDrops(bus: Bus): number {
  const { dropped } = bus.stats();
  return dropped["invalid-json"] + dropped.schema;
}

/** The `lvsq explain` answer: the engine's explanation plus who answered and who decided. */
export function explainAnswer(
  request: unknown,
  explain: (service: string, rs: string | undefined) => unknown,
  who: { director: string; role: DirectorRole; at: number; decidedBy: (service: string) => unknown },
) {
  const { service, rs } = (request ?? {}) as { service?: unknown; rs?: unknown };
  if (typeof service !== "string") throw new Error("explain needs { service, rs? }");
  const explanation = explain(service, typeof rs === "string" ? rs : undefined);
  if (!explanation) {
    throw new Error(`unknown service or real server: ${service}${typeof rs === "string" ? ` ${rs}` : ""}`);
  }
  return {
    director: who.director,
    role: who.role,
    at: who.at,
    decidedBy: who.decidedBy(service),
    explanation,
  };
}
