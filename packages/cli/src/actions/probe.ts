import { createCheckRunner } from "@lvsq/checks";
import { type FleetConfig, loadConfig } from "@lvsq/config";
import { createNftRunner, ForwardingPath } from "@lvsq/path";
import { ProbeAgent } from "@lvsq/probe";
import { createProbeMetrics, handleSignals, type Logger } from "@lvsq/runtime";
import type { Command } from "commander";
import { agentLogger, connectBus, loadConfigOrExit, openMetrics, requireId, runForever } from "../common.js";
import type { CliIo } from "../io.js";
import { kernelDriver } from "./director.js";

export type ProbeOptions = {
  config: string;
  id: string;
  maxConcurrent: number;
  metrics?: string;
  metricsAuth?: string;
};

/** `lvsq probe`: check the real servers and publish votes over NATS, until SIGTERM. */
export async function runProbe(options: ProbeOptions, command: Command, io: CliIo): Promise<void> {
  const config = await loadConfigOrExit(options.config, io);
  requireId(
    "probe",
    options.id,
    config.probes.map((p) => p.id),
    io,
  );
  const me = config.probes.find((p) => p.id === options.id)!;
  const logger = agentLogger(command, { probe: options.id, site: me.site });
  const metrics = await openMetrics(options.metrics, logger, io, options.metricsAuth);
  const bus = await connectBus(config, `lvsq-probe-${options.id}`, logger, io, {
    identity: options.id,
  });
  // One check runner per loaded config: it caches CA files and compiled regexes; a reload re-reads them.
  let checks = createCheckRunner();
  const direct: typeof checks.run = (check, target, runOptions) => checks.run(check, target, runOptions);
  const path = me.forwarding ? await openForwardingPath(config, options.id, logger, io) : undefined;
  const agent = new ProbeAgent({
    config,
    probeId: options.id,
    bus,
    runCheck: path ? path.forwarding.wrap(direct) : direct,
    logger,
    maxConcurrent: options.maxConcurrent,
    ...(metrics ? { metrics: createProbeMetrics(metrics.registry) } : {}),
  });
  logger.info(
    { services: Object.keys(agent.snapshot()).length, connected: bus.isConnected() },
    "probe started",
  );
  handleSignals(logger, {
    reload: async () => {
      try {
        const next = await loadConfig(options.config);
        // The kernel driver and the pins are opened at start: whether there are pins is fixed until a restart.
        if (Boolean(path) !== Boolean(next.probes.find((p) => p.id === options.id)?.forwarding)) {
          throw new Error(
            `the forwarding block of this probe cannot be ${path ? "removed" : "added"} by a reload: restart the probe`,
          );
        }
        checks = createCheckRunner();
        await path?.forwarding.reload(next);
        agent.reload(next);
        logger.info("config reloaded");
      } catch (error) {
        logger.error(
          { err: error instanceof Error ? error.message : error },
          "config reload refused; keeping the running config",
        );
      }
    },
    stop: async () => {
      await agent.stop();
      await path?.close();
      await Promise.all([bus.close(), metrics?.server.close()]);
    },
    // Taking the pins out of the kernel (netlink and one nft run) comes after the checks have stopped.
    stopTimeoutMs: path ? 10_000 : 2000,
  });
  await runForever();
}

/** A forwarding probe (probes[].forwarding) pins through the kernel's ipvs table, as the director does. */
async function openForwardingPath(config: FleetConfig, probeId: string, logger: Logger, io: CliIo) {
  const kernel = await kernelDriver(config.director, false, logger, io);
  const forwarding = new ForwardingPath({
    config,
    probeId,
    driver: kernel.driver,
    nft: createNftRunner(),
    logger,
  });
  await forwarding.start();
  return {
    forwarding,
    async close() {
      await forwarding.stop();
      kernel.close();
    },
  };
}
