import { pino, type Logger, type LoggerOptions } from "pino";

export type LogFormat = "json" | "pretty";
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export type LoggerSettings = {
  level?: LogLevel;
  format?: LogFormat;
  /** Static fields on every line, e.g. { director: "lvs-a" }. */
  bindings?: Record<string, unknown>;
  /** Where to write; default stdout (journald reads it). Tests pass a stream to capture lines. */
  destination?: NodeJS.WritableStream;
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
  return settings.destination ? pino(options, settings.destination as pino.DestinationStream) : pino(options);
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
