import { createCheckRunner } from "@lvsq/checks";
import { loadConfig } from "@lvsq/config";
import { ProbeAgent } from "@lvsq/probe";
import { createProbeMetrics, handleSignals } from "@lvsq/runtime";
import type { Command } from "commander";
import { agentLogger, connectBus, loadConfigOrExit, openMetrics, requireId, runForever } from "../common.js";
import type { CliIo } from "../io.js";

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
  const site = config.probes.find((p) => p.id === options.id)!.site;
  const logger = agentLogger(command, { probe: options.id, site });
  const metrics = await openMetrics(options.metrics, logger, io, options.metricsAuth);
  const bus = await connectBus(config, `lvsq-probe-${options.id}`, logger, io, {
    identity: options.id,
  });
  // One check runner per loaded config: it caches CA files and compiled regexes; a reload re-reads them.
  let checks = createCheckRunner();
  const agent = new ProbeAgent({
    config,
    probeId: options.id,
    bus,
    runCheck: (check, target, runOptions) => checks.run(check, target, runOptions),
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
        checks = createCheckRunner();
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
      await Promise.all([bus.close(), metrics?.server.close()]);
    },
    stopTimeoutMs: 2000,
  });
  await runForever();
}
