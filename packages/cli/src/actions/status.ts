import { type Bus, everyServerOnceMs } from "@lvsq/bus";
import { type FleetConfig, parseDuration, VIEWER_USER } from "@lvsq/config";
import { ExitCode, handleSignals, type HttpAuth, type Logger, parseHostPort } from "@lvsq/runtime";
import { FleetModel, renderTable, serveStatusPage, watchFleet } from "@lvsq/status";
import type { Command } from "commander";
import {
  connectBus,
  loadAuthOrExit,
  loadConfigOrExit,
  oneShotBusLogger,
  runForever,
  terminalLogger,
} from "../common.js";
import { type CliIo, ExitWith } from "../io.js";

export type StatusOptions = {
  config: string;
  json?: boolean;
  watch?: boolean;
  web?: string;
  wait: string;
  history: number;
  creds?: string;
  webAuth?: string;
};

/** ANSI: cursor home + clear screen. Every --watch frame starts with it (also when piped, as a separator). */
export const CLEAR_SCREEN = "\x1b[H\x1b[2J";
/** Coalesce a burst of messages (a round of votes) into one redraw. */
const REDRAW_DELAY_MS = 100;
/** Redraw at least this often so ages and stale marks move. */
const REFRESH_MS = 1_000;

/** `lvsq status`: one fleet view, printed once, redrawn (--watch) or served (--web). */
export async function runStatus(options: StatusOptions, command: Command, io: CliIo): Promise<void> {
  const waitMs = parseDuration(options.wait);
  if (waitMs === undefined)
    return usage(io, `--wait: expected a duration like 3s or 500ms, got "${options.wait}"`);
  if (!Number.isInteger(options.history) || options.history < 1)
    return usage(io, "--history: expected a positive integer");
  if (options.web !== undefined) {
    const address = parseHostPort(options.web);
    if ("error" in address) return usage(io, `--web: ${address.error}`);
  } else if (options.webAuth !== undefined) {
    return usage(io, "--web-auth needs --web HOST:PORT");
  }
  const config = await loadConfigOrExit(options.config, io);
  const logger = terminalLogger(command, io, "lvsq status");
  const live = options.watch || options.web !== undefined;
  // Before connecting: a bad auth file must end the process, not leave it holding a NATS connection.
  const auth = await loadAuthOrExit("--web-auth", options.webAuth, logger, io);
  // One-shot: an unreachable NATS is said once, below, naming the URL; a live view warns as it goes.
  const bus = await connectBus(config, "lvsq-status", live ? logger : oneShotBusLogger(command, logger), io, {
    identity: VIEWER_USER,
    creds: options.creds,
    firstConnectWaitMs: everyServerOnceMs(config.nats.servers),
  });
  const model = new FleetModel(config, { historyLimit: options.history });
  const watch = watchFleet(bus, model, logger, { cluster: config.cluster });
  if (!live) {
    try {
      await printOnce(model, bus, watch.ready, config, options, waitMs, io);
    } finally {
      watch.stop();
      await bus.close();
    }
    return;
  }
  await runLive(model, bus, watch.stop, logger, options, io, auth);
}

async function printOnce(
  model: FleetModel,
  bus: Bus,
  ready: Promise<void>,
  config: FleetConfig,
  options: StatusOptions,
  waitMs: number,
  io: CliIo,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  const remaining = () => Math.max(0, deadline - Date.now());
  await Promise.race([ready, new Promise((resolve) => setTimeout(resolve, remaining()))]);
  // Bounded poll: until every configured probe and director reported (and voted), or the wait is over.
  while (Date.now() < deadline && !model.isComplete()) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, remaining())));
  }
  if (!bus.isConnected() && model.revision === 0) {
    io.stderr(`error: cannot reach NATS at ${config.nats.servers.join(", ")}; nothing to show\n`);
    throw new ExitWith(ExitCode.failure);
  }
  const snapshot = model.snapshot(Date.now());
  io.stdout(
    options.json
      ? `${JSON.stringify(snapshot, null, 2)}\n`
      : renderTable(snapshot, { color: colourOutput() }),
  );
}

async function runLive(
  model: FleetModel,
  bus: Bus,
  stopWatch: () => void,
  logger: Logger,
  options: StatusOptions,
  io: CliIo,
  auth: HttpAuth | undefined,
): Promise<never> {
  const closers: (() => Promise<void> | void)[] = [];
  if (options.web !== undefined) {
    const page = await serveStatusPage(options.web, model, logger, auth ? { auth } : {}).catch(
      (error: unknown) => {
        io.stderr(`error: --web ${options.web}: ${error instanceof Error ? error.message : error}\n`);
        throw new ExitWith(ExitCode.failure);
      },
    );
    closers.push(() => page.close());
    (options.watch ? io.stderr : io.stdout)(`status page: ${page.url}\n`);
  }
  if (options.watch) {
    let pending: NodeJS.Timeout | undefined;
    const draw = () => {
      pending = undefined;
      const snapshot = model.snapshot(Date.now());
      io.stdout(
        options.json
          ? `${JSON.stringify(snapshot)}\n`
          : CLEAR_SCREEN + renderTable(snapshot, { color: colourOutput() }),
      );
    };
    const unsubscribe = model.onChange(() => {
      pending ??= setTimeout(draw, REDRAW_DELAY_MS);
    });
    const refresh = setInterval(draw, REFRESH_MS);
    draw();
    closers.push(() => {
      unsubscribe();
      clearInterval(refresh);
      if (pending) clearTimeout(pending);
    });
  }
  handleSignals(logger, {
    stop: async () => {
      stopWatch();
      for (const close of closers) await close();
      await bus.close();
    },
    stopTimeoutMs: 2000,
  });
  return runForever();
}

function colourOutput(): boolean {
  return Boolean(process.stdout.isTTY) && process.env.NO_COLOR === undefined;
}

function usage(io: CliIo, message: string): never {
  io.stderr(`error: ${message}\n`);
  throw new ExitWith(ExitCode.usage);
}
