import { createMemoryBus } from "@lvsq/bus";
import { createCheckRunner } from "@lvsq/checks";
import { STANDALONE_DIRECTOR, STANDALONE_PROBE } from "@lvsq/config";
import { AdminFile, adminFilePath, DirectorAgent } from "@lvsq/director";
import { AdminRecord } from "@lvsq/protocol";
import { ProbeAgent } from "@lvsq/probe";
import { adminCommandOf } from "@lvsq/engine";
import { createDirectorMetrics, ExitCode, handleSignals, type Logger } from "@lvsq/runtime";
import type { Command } from "commander";
import { agentLogger, loadConfigOrExit, openMetrics, runForever } from "../common.js";
import { controlSocketPath, serveControl } from "../control-socket.js";
import { type CliIo, ExitWith } from "../io.js";
import { kernelDriver, reloader } from "./director.js";

export type RunOptions = { config: string; dryRun?: boolean; metrics?: string; metricsAuth?: string };

/** `lvsq run`: one probe and one director in this process over an in-process bus, until SIGTERM. */
export async function runStandalone(options: RunOptions, command: Command, io: CliIo): Promise<void> {
  const config = await loadConfigOrExit(options.config, io);
  if (!config.standalone) {
    io.stderr(
      "error: lvsq run is standalone mode and needs a config without `probes`; for a fleet run `lvsq probe` and `lvsq director`\n",
    );
    throw new ExitWith(ExitCode.usage);
  }
  const logger = agentLogger(command, { director: STANDALONE_DIRECTOR });
  const metrics = await openMetrics(options.metrics, logger, io, options.metricsAuth);
  const kernel = await kernelDriver(config.director, options.dryRun === true, logger, io);
  const bus = createMemoryBus({ name: "standalone" });
  const director = await DirectorAgent.start({
    config,
    directorId: STANDALONE_DIRECTOR,
    bus,
    driver: kernel.driver,
    dryRun: options.dryRun === true,
    logger,
    standalone: true,
    ipvsadm: config.director.ipvsadm,
    ...(metrics ? { metrics: createDirectorMetrics(metrics.registry) } : {}),
  });
  const adminFile = new AdminFile(adminFilePath(config.cluster));
  applyStoredOverrides(adminFile, director, logger);
  let checks = createCheckRunner();
  const probe = new ProbeAgent({
    config,
    probeId: STANDALONE_PROBE,
    bus,
    runCheck: (check, target, runOptions) => checks.run(check, target, runOptions),
    logger,
  });
  const socketPath = controlSocketPath(config.cluster);
  const control = await serveControl(
    socketPath,
    (service, rs) => {
      const explanation = director.explain(service, rs);
      if (!explanation) throw new Error(`unknown service or real server: ${service} ${rs ?? ""}`.trim());
      return { director: STANDALONE_DIRECTOR, role: "standalone", at: Date.now(), explanation };
    },
    (body) => {
      const record = AdminRecord.parse(body);
      const result = director.admin(adminCommandOf(record));
      const rejected = result.events.find((event) => event.type === "admin-rejected");
      if (rejected) throw new Error(`${record.service} ${record.rs}: ${rejected.why}`);
      // Kept only once the engine took it: a rejected override must not come back at the next start.
      const previous = adminFile.save(record);
      return { previous: previous ?? null, file: adminFile.path };
    },
  ).catch((error: unknown) => {
    logger.warn(
      { err: error instanceof Error ? error.message : error, socket: socketPath },
      "cannot open the control socket; lvsq explain will not reach this process",
    );
    return undefined;
  });
  logger.info(
    {
      services: Object.keys(config.services).length,
      dryRun: options.dryRun === true,
      socket: socketPath,
    },
    "standalone started",
  );
  handleSignals(logger, {
    reload: reloader(options.config, logger, (next) => {
      if (!next.standalone) throw new Error("the new config has probes; lvsq run needs a standalone config");
      checks = createCheckRunner();
      director.reload(next);
      probe.reload(next);
    }),
    stop: async () => {
      await probe.stop();
      await director.stop();
      kernel.close();
      control?.close();
      await bus.close();
      await metrics?.server.close();
    },
    stopTimeoutMs: 5000,
  });
  await runForever();
}

/** Re-applies the overrides kept on this node, as a director does with the admin KV bucket at start. */
function applyStoredOverrides(file: AdminFile, director: DirectorAgent, logger: Logger): void {
  let stored: ReturnType<AdminFile["load"]>;
  try {
    stored = file.load();
  } catch (error) {
    logger.error(
      { err: error instanceof Error ? error.message : error, file: file.path },
      "cannot read the stored admin overrides; starting without them",
    );
    return;
  }
  if (stored.invalid.length > 0) {
    logger.warn(
      { file: file.path, keys: stored.invalid.slice(0, 10) },
      "ignoring invalid stored admin records",
    );
  }
  for (const record of stored.records) director.admin(adminCommandOf(record));
  if (stored.records.length > 0) {
    logger.info({ file: file.path, overrides: stored.records.length }, "applied the stored admin overrides");
  }
}
