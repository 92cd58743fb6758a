import { type Bus, connectNatsBus } from "@lvsq/bus";
import { ConfigError, type FleetConfig, loadConfig, natsCredentials } from "@lvsq/config";
import { LvsqError } from "@lvsq/protocol";
import {
  createLogger,
  createMetricsRegistry,
  ExitCode,
  HttpAuth,
  type Logger,
  type LogFormat,
  type LogLevel,
  type MetricsServer,
  parseHostPort,
  type Registry,
  serveMetrics,
} from "@lvsq/runtime";
import type { Command } from "commander";
import { type CliIo, ExitWith } from "./io.js";

export type GlobalFlags = { logLevel: LogLevel; logFormat: LogFormat };

export function globalFlags(command: Command): GlobalFlags {
  return command.optsWithGlobals() as GlobalFlags;
}

export function agentLogger(command: Command, bindings: Record<string, unknown>): Logger {
  const flags = globalFlags(command);
  return createLogger({ level: flags.logLevel, format: flags.logFormat, bindings });
}

/**
 * The log of a command a person runs at a terminal (`status`, `explain`, `admin`): plain-text lines on
 * stderr (stdout carries the answer), warnings and worse unless `--log-level` says otherwise;
 * `--log-format json` gives JSON lines on stderr instead (pretty would go to stdout, so it reads as plain).
 */
export function terminalLogger(command: Command, io: CliIo, label: string): Logger {
  const flags = globalFlags(command);
  const explicit = (option: string) => command.getOptionValueSourceWithGlobals(option) !== "default";
  return createLogger({
    level: explicit("logLevel") ? flags.logLevel : "warn",
    format: explicit("logFormat") && flags.logFormat === "json" ? "json" : "plain",
    label,
    destination: { write: (text: string) => io.stderr(text) },
  });
}

/**
 * The bus's logger for a one-shot terminal command: the command itself reports an unreachable NATS in one
 * line naming the URL, so the bus's retry warnings would only repeat it; its errors (a refused permission)
 * still show. With `--log-level`, the bus logs at that level like everything else.
 */
export function oneShotBusLogger(command: Command, logger: Logger): Logger {
  if (command.getOptionValueSourceWithGlobals("logLevel") !== "default") return logger;
  return logger.child({}, { level: "error" });
}

/** Loads the config for an agent; an invalid one prints its problems and ends the process with 78. */
export async function loadConfigOrExit(file: string, io: CliIo): Promise<FleetConfig> {
  try {
    return await loadConfig(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`${error.message}\n`);
      throw new ExitWith(ExitCode.config);
    }
    throw error;
  }
}

/** Validates that `id` is one of `ids` (a usage error, exit 2, naming the choices). */
export function requireId(kind: string, id: string, ids: string[], io: CliIo): void {
  if (ids.includes(id)) return;
  io.stderr(`error: ${kind} "${id}" is not in the config; expected one of: ${ids.join(", ") || "(none)"}\n`);
  throw new ExitWith(ExitCode.usage);
}

export type ConnectOptions = {
  /** Who connects: an agent id, or OPERATOR_USER / VIEWER_USER; picks the creds file and fills `{id}`. */
  identity: string;
  /** `--creds FILE` of an operator command: this file instead of the config's. */
  creds?: string | undefined;
  firstConnectWaitMs?: number;
};

/**
 * Connects with the identity's own credentials and the config's TLS files (natsCredentials). A file that
 * cannot be read or is not a credentials file is a config problem: its message, then exit 78 (the units do
 * not restart-loop on it).
 */
export async function connectBus(
  config: FleetConfig,
  name: string,
  logger: Logger,
  io: CliIo,
  options: ConnectOptions,
): Promise<Bus> {
  const found = natsCredentials(config, options.identity);
  const creds = options.creds ?? found.creds;
  const label = options.creds !== undefined ? `--creds ${options.creds}` : `${found.credsField} (${creds})`;
  try {
    return await connectNatsBus({
      servers: config.nats.servers,
      name,
      logger,
      ...(creds !== undefined ? { creds, credsLabel: label } : {}),
      ...(found.tls ? { tls: found.tls } : {}),
      ...(config.nats.replicas ? { replicas: config.nats.replicas } : {}),
      ...(options.firstConnectWaitMs !== undefined ? { firstConnectWaitMs: options.firstConnectWaitMs } : {}),
    });
  } catch (error) {
    if (error instanceof LvsqError && error.code === "config_invalid") {
      io.stderr(`error: ${error.message}\n`);
      throw new ExitWith(ExitCode.config);
    }
    throw error;
  }
}

/** Resolves when the process is told to stop (the signal handlers exit the process themselves). */
export function runForever(): Promise<never> {
  return new Promise(() => {});
}

/**
 * Reads an HTTP auth file given by `flag`; a file that cannot be read or parsed ends the process with 78
 * (EX_CONFIG: a unit does not restart-loop on it), its message naming the file and line.
 */
export async function loadAuthOrExit(
  flag: string,
  file: string | undefined,
  logger: Logger,
  io: CliIo,
): Promise<HttpAuth | undefined> {
  if (file === undefined) return undefined;
  try {
    return await HttpAuth.load(file, logger);
  } catch (error) {
    io.stderr(`error: ${flag}: ${error instanceof Error ? error.message : String(error)}\n`);
    throw new ExitWith(ExitCode.config);
  }
}

/**
 * `--metrics HOST:PORT [--metrics-auth FILE]`: a bad address is a usage error (2); a port that cannot be bound
 * is a failure (1); a bad auth file is 78.
 */
export async function openMetrics(
  address: string | undefined,
  logger: Logger,
  io: CliIo,
  authFile?: string,
): Promise<{ registry: Registry; server: MetricsServer } | undefined> {
  if (address === undefined) {
    if (authFile === undefined) return undefined;
    io.stderr("error: --metrics-auth needs --metrics HOST:PORT\n");
    throw new ExitWith(ExitCode.usage);
  }
  const parsed = parseHostPort(address);
  if ("error" in parsed) {
    io.stderr(`error: --metrics: ${parsed.error}\n`);
    throw new ExitWith(ExitCode.usage);
  }
  const registry = createMetricsRegistry();
  try {
    const auth = await loadAuthOrExit("--metrics-auth", authFile, logger, io);
    return { registry, server: await serveMetrics(address, registry, logger, auth ? { auth } : {}) };
  } catch (error) {
    if (error instanceof ExitWith) throw error;
    io.stderr(`error: --metrics ${address}: ${error instanceof Error ? error.message : error}\n`);
    throw new ExitWith(ExitCode.failure);
  }
}
