import type { Logger } from "pino";
import type { ZodType } from "zod";
import type { BusStats, DropReason } from "./types.js";

const WARN_INTERVAL_MS = 10_000;
const MAX_WARN_KEYS = 1_000;

/**
 * The receive side shared by both buses: decode JSON, validate with zod, hand to the handler; every failure
 * is a counted drop and at most one warning per (subject, reason) per 10 s, carrying the suppressed count.
 */
export class Inbound {
  readonly counters: BusStats = {
    published: 0,
    publishDropped: 0,
    delivered: 0,
    dropped: { "invalid-json": 0, schema: 0, "handler-error": 0 },
  };
  private readonly lastWarn = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  deliver<T>(
    subject: string,
    text: string,
    schema: ZodType<T>,
    handler: (message: T, subject: string) => void | Promise<void>,
  ): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      this.drop(subject, "invalid-json", { err: (error as Error).message });
      return;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 5)
        .map((issue) => ({ path: issue.path.join("."), message: issue.message }));
      this.drop(subject, "schema", { issues });
      return;
    }
    this.counters.delivered++;
    try {
      const result = handler(parsed.data, subject);
      if (result instanceof Promise) {
        result.catch((error: unknown) => this.drop(subject, "handler-error", { err: errorText(error) }));
      }
    } catch (error) {
      this.drop(subject, "handler-error", { err: errorText(error) });
    }
  }

  drop(subject: string, reason: DropReason, fields: Record<string, unknown>): void {
    this.counters.dropped[reason]++;
    const key = `${reason} ${subject}`;
    const now = this.now();
    const last = this.lastWarn.get(key);
    if (last && now - last.at < WARN_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    if (this.lastWarn.size >= MAX_WARN_KEYS) this.lastWarn.clear();
    this.lastWarn.set(key, { at: now, suppressed: 0 });
    this.logger.warn(
      { subject, reason, suppressed: last?.suppressed ?? 0, ...fields },
      "bus: inbound message dropped",
    );
  }

  snapshot(): BusStats {
    return { ...this.counters, dropped: { ...this.counters.dropped } };
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function encodeJson(payload: unknown): string {
  return JSON.stringify(payload);
}

export function decodeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
