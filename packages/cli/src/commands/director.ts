import { loadConfig } from "@lvsq/config";
import { createDryRunDriver, DirectorAgent } from "@lvsq/director";
import { createIpvsadmDriver } from "@lvsq/ipvs";
import { createDirectorMetrics, handleSignals, type Logger } from "@lvsq/runtime";
import type { Command } from "commander";
import {
  AUTH_FILE_HELP,
  agentLogger,
  connectBus,
  loadConfigOrExit,
  openMetrics,
  requireId,
  runForever,
} from "../common.js";
import type { CliIo } from "../io.js";

export function kernelDriver(ipvsadm: string, dryRun: boolean, logger: Logger) {
  const real = createIpvsadmDriver({ path: ipvsadm, timeoutMs: 10_000 });
  return dryRun ? createDryRunDriver(real, logger, ipvsadm) : real;
}

/** SIGHUP: reload through `apply`; a bad config is refused and the running one kept. */
export function reloader(
  file: string,
  logger: Logger,
  apply: (config: Awaited<ReturnType<typeof loadConfig>>) => void,
) {
  return async () => {
    try {
      await apply(await loadConfig(file));
      logger.info("config reloaded");
    } catch (error) {
      logger.error(
        { err: error instanceof Error ? error.message : error },
        "config reload refused; keeping the running config",
      );
    }
  };
}

export function registerDirector(program: Command, io: CliIo): void {
  program
    .command("director")
    .summary("run a director agent: votes from NATS → quorum → the local ipvs table")
    .description(
      "Collects the probes' votes, decides by quorum (fail-static when votes are stale or split) and applies\n" +
        "add / remove / quiesce / fallback to this node's ipvs table with ipvsadm, one batch at a time.\n" +
        "It reads the kernel table first and treats it as current, repairs drift every reconcileInterval, and\n" +
        "never touches virtual services the config does not list. Cut off from NATS it keeps its table and\n" +
        "reports `isolated`. SIGHUP reloads the config; SIGTERM stops and leaves the table as it is.",
    )
    .requiredOption("--config <file>", "fleet config (YAML)")
    .requiredOption("--id <id>", "this director's id in the config's `directors`")
    .option("--dry-run", "read the kernel table but only log the ipvsadm commands it would run")
    .option(
      "--metrics <host:port>",
      "serve Prometheus metrics on http://HOST:PORT/metrics (PORT alone: loopback)",
    )
    .option("--metrics-auth <file>", AUTH_FILE_HELP)
    .addHelpText(
      "after",
      "\nExamples:\n  $ lvsq director --config /etc/lvsq/fleet.yaml --id lvs-a\n  $ lvsq director --config fleet.yaml --id lvs-a --dry-run --log-format pretty",
    )
    .action(
      async (
        options: { config: string; id: string; dryRun?: boolean; metrics?: string; metricsAuth?: string },
        command: Command,
      ) => {
        const config = await loadConfigOrExit(options.config, io);
        requireId(
          "director",
          options.id,
          config.directors.map((d) => d.id),
          io,
        );
        const pair = config.directors.find((d) => d.id === options.id)?.pair;
        const logger = agentLogger(command, { director: options.id, ...(pair ? { pair } : {}) });
        const metrics = await openMetrics(options.metrics, logger, io, options.metricsAuth);
        const bus = await connectBus(config, `lvsq-director-${options.id}`, logger, io, {
          identity: options.id,
        });
        const agent = await DirectorAgent.start({
          config,
          directorId: options.id,
          bus,
          driver: kernelDriver(config.director.ipvsadm, options.dryRun === true, logger),
          logger,
          ipvsadm: config.director.ipvsadm,
          ...(metrics ? { metrics: createDirectorMetrics(metrics.registry) } : {}),
        });
        logger.info({ role: agent.role, dryRun: options.dryRun === true }, "director started");
        handleSignals(logger, {
          reload: reloader(options.config, logger, (next) => agent.reload(next)),
          stop: async () => {
            await agent.stop();
            await bus.close();
            await metrics?.server.close();
          },
          stopTimeoutMs: 5000,
        });
        await runForever();
      },
    );
}
