import { createCheckRunner } from "@lvsq/checks";
import { loadConfig } from "@lvsq/config";
import { ProbeAgent } from "@lvsq/probe";
import { createProbeMetrics, handleSignals } from "@lvsq/runtime";
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

export function registerProbe(program: Command, io: CliIo): void {
  program
    .command("probe")
    .summary("run a probe agent: check real servers, publish health votes over NATS")
    .description(
      "Checks every real server of the services assigned to this probe (all, unless a service lists `probes`)\n" +
        "and publishes one vote batch per service per interval, and at once when a vote flips (after rise/fall).\n" +
        "Keeps checking while NATS is down and republishes its full state on reconnect.\n" +
        "SIGHUP reloads the config (a bad one is refused, the old one kept); SIGTERM stops within 2 s.",
    )
    .requiredOption("--config <file>", "fleet config (YAML)")
    .requiredOption("--id <id>", "this probe's id in the config's `probes`")
    .option("--max-concurrent <n>", "checks in flight at once", (v) => Number.parseInt(v, 10), 512)
    .option(
      "--metrics <host:port>",
      "serve Prometheus metrics on http://HOST:PORT/metrics (PORT alone: loopback)",
    )
    .option("--metrics-auth <file>", AUTH_FILE_HELP)
    .addHelpText(
      "after",
      "\nExamples:\n  $ lvsq probe --config /etc/lvsq/fleet.yaml --id probe-dc1\n  $ LVSQ_NATS_URL=nats://10.0.0.5:4222 lvsq probe --config fleet.yaml --id probe-dc2 --log-format pretty",
    )
    .action(
      async (
        options: {
          config: string;
          id: string;
          maxConcurrent: number;
          metrics?: string;
          metricsAuth?: string;
        },
        command: Command,
      ) => {
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
      },
    );
}
