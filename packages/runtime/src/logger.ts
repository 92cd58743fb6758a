import { pino, type Logger, type LoggerOptions } from "pino";

/** `plain`: one readable line per event on `destination` (stderr), for commands a person runs at a terminal. */
export type LogFormat = "json" | "pretty" | "plain";
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export type LoggerSettings = {
  level?: LogLevel;
  format?: LogFormat;
  /** Static fields on every line, e.g. { director: "lvs-a" }. */
  bindings?: Record<string, unknown>;
  /** Where to write; default stdout (journald reads it). Tests pass a stream to capture lines. */
  destination?: NodeJS.WritableStream | { write(text: string): unknown };
  /** Plain format: what each line starts with (`lvsq status`). */
  label?: string;
};

/** Makes a pretty-printing stream in this thread (pino-pretty's default export). */
export type PrettyStreamFactory = (options: Record<string, unknown>) => pino.DestinationStream;

/**
 * Set once, by the packaged single executable's entry point: there, pino's worker-thread transports cannot
 * run (a worker is started from a file, and the executable has none), so `--log-format pretty` prints through
 * an in-process pino-pretty instead. Everywhere else it stays unset and pretty output goes through a worker.
 */
const pretty: { inProcess?: PrettyStreamFactory } = {};
export function usePrettyInProcess(factory: PrettyStreamFactory): void {
  pretty.inProcess = factory;
}

/**
 * The one root logger of a process: NDJSON with stable field names, pretty only when asked. Built once in
 * `main` and passed down; libraries never import a global logger.
 */
export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? "info",
    base: { ...settings.bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (settings.format === "pretty") {
    const prettyOptions = { colorize: process.stdout.isTTY, translateTime: "SYS:HH:MM:ss.l" };
    if (pretty.inProcess) return pino(options, pretty.inProcess(prettyOptions));
    return pino({
      ...options,
      transport: {
        target: "pino-pretty",
        options: prettyOptions,
      },
    });
  }
  if (settings.format === "plain") {
    const out = settings.destination ?? process.stderr;
    return pino(options, { write: (line: string) => void out.write(plainLine(line, settings.label)) });
  }
  return settings.destination ? pino(options, settings.destination as pino.DestinationStream) : pino(options);
}

const PLAIN_LEVEL: Record<string, string> = {
  fatal: "fatal: ",
  error: "error: ",
  warn: "warning: ",
  debug: "debug: ",
  trace: "trace: ",
};
const PLAIN_SKIPPED = new Set(["level", "time", "msg", "pid", "hostname"]);

/**
 * One pino JSON line as text: `lvsq status: warning: <msg> (servers: nats://…, err: connection refused)`.
 * The fields are the same as in JSON, in the order logged; errors show their message.
 */
export function plainLine(json: string, label?: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  const fields = Object.entries(entry)
    .filter(([key, value]) => !PLAIN_SKIPPED.has(key) && value !== undefined)
    .map(([key, value]) => `${key}: ${plainValue(value)}`);
  const prefix = label ? `${label}: ` : "";
  const level = PLAIN_LEVEL[String(entry.level)] ?? "";
  return `${prefix}${level}${String(entry.msg ?? "")}${fields.length ? ` (${fields.join(", ")})` : ""}\n`;
}

function plainValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(plainValue).join(" ");
  if (value && typeof value === "object") {
    const message = (value as { message?: unknown }).message;
    return typeof message === "string" ? message : JSON.stringify(value);
  }
  return String(value);
}

/** Cuts untrusted text (HTTP bodies, exec output) to 256 bytes for the `detail` field. */
export function detail(text: string, maxBytes = 256): string {
  const buffer = Buffer.from(text, "utf8");
  return buffer.length <= maxBytes ? text : `${buffer.subarray(0, maxBytes).toString("utf8")}…`;
}

/**
 * Warns at most once per `intervalMs` per key (e.g. per source of dropped messages), counting what it
 * suppressed so the next line carries the number.
 */
export function rateLimitedWarn(logger: Logger, intervalMs: number, now: () => number = Date.now) {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (key: string, fields: Record<string, unknown>, message: string): void => {
    const entry = last.get(key);
    const t = now();
    if (entry && t - entry.at < intervalMs) {
      entry.suppressed++;
      return;
    }
    logger.warn({ ...fields, suppressed: entry?.suppressed ?? 0 }, message);
    last.set(key, { at: t, suppressed: 0 });
  };
}

export type { Logger };
