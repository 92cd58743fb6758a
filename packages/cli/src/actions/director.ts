import { loadConfig } from "@lvsq/config";
import { createDryRunDriver, DirectorAgent } from "@lvsq/director";
import { type IpvsDriver, openKernelDriver } from "@lvsq/ipvs";
import { createDirectorMetrics, ExitCode, handleSignals, type Logger } from "@lvsq/runtime";
import type { Command } from "commander";
import { agentLogger, connectBus, loadConfigOrExit, openMetrics, requireId, runForever } from "../common.js";
import { type CliIo, ExitWith } from "../io.js";

/**
 * The kernel driver of `config.director.driver` (netlink unless set; see docs/ipvs.md), wrapped for
 * --dry-run, which only reads (and so never loads ip_vs with modprobe). A driver asked for that cannot
 * open is a start-up failure (exit 1), with the way back to ipvsadm in the message.
 */
export async function kernelDriver(
  director: Awaited<ReturnType<typeof loadConfig>>["director"],
  dryRun: boolean,
  logger: Logger,
  io: CliIo,
): Promise<{ driver: IpvsDriver; close(): void }> {
  const kernel = await openKernelDriver({
    driver: director.driver,
    ipvsadm: director.ipvsadm,
    timeoutMs: 10_000,
    ...(dryRun ? { modprobe: false as const } : {}),
  }).catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    logger.fatal({ err: message }, "cannot open the ipvs driver");
    io.stderr(
      `error: ${message}\n(director.driver: ipvsadm or LVSQ_IPVS_DRIVER=ipvsadm uses ipvsadm instead)\n`,
    );
    throw new ExitWith(ExitCode.failure);
  });
  if (kernel.fallbackReason !== undefined) {
    logger.warn(
      { driver: kernel.name, detail: kernel.fallbackReason },
      "netlink driver unavailable, using ipvsadm (set director.driver to choose)",
    );
  }
  logger.info({ driver: kernel.name, detail: kernel.detail }, "ipvs driver");
  const driver = dryRun ? createDryRunDriver(kernel.driver, logger, director.ipvsadm) : kernel.driver;
  return { driver, close: () => kernel.close() };
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

export type DirectorOptions = {
  config: string;
  id: string;
  dryRun?: boolean;
  metrics?: string;
  metricsAuth?: string;
};

/** `lvsq director`: votes from NATS → quorum → this node's ipvs table, until SIGTERM. */
export async function runDirector(options: DirectorOptions, command: Command, io: CliIo): Promise<void> {
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
  // The kernel driver opens while the bus connects: both are start-up latency.
  const [kernel, bus] = await Promise.all([
    kernelDriver(config.director, options.dryRun === true, logger, io),
    connectBus(config, `lvsq-director-${options.id}`, logger, io, { identity: options.id }),
  ]);
  const agent = await DirectorAgent.start({
    config,
    directorId: options.id,
    bus,
    driver: kernel.driver,
    dryRun: options.dryRun === true,
    logger,
    ipvsadm: config.director.ipvsadm,
    ...(metrics ? { metrics: createDirectorMetrics(metrics.registry) } : {}),
  });
  logger.info({ role: agent.role, dryRun: options.dryRun === true }, "director started");
  handleSignals(logger, {
    reload: reloader(options.config, logger, (next) => agent.reload(next)),
    stop: async () => {
      await agent.stop();
      kernel.close();
      await bus.close();
      await metrics?.server.close();
    },
    stopTimeoutMs: 5000,
  });
  await runForever();
}
