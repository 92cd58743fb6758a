import { ConfigError, loadConfig } from "@lvsq/config";
import { ExitCode } from "@lvsq/runtime";
import type { Command } from "commander";
import { type CliIo, ExitWith } from "../io.js";

export function registerValidate(program: Command, io: CliIo): void {
  program
    .command("validate")
    .summary("check a fleet config file and print what it configures")
    .description(
      "Parses and validates a fleet config exactly as the agents do, without touching NATS or the kernel.\n" +
        "Exits 0 when valid, 78 (EX_CONFIG) when not, naming the file, line, field path and what was expected.",
    )
    .argument("<file>", "fleet config (YAML)")
    .option("--print", "print the normalised config (defaults filled in, durations in ms) as JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  $ lvsq validate /etc/lvsq/fleet.yaml\n  $ lvsq validate fleet.yaml --print | jq .services.web.check",
    )
    .action(async (file: string, options: { print?: boolean }) => {
      try {
        const config = await loadConfig(file);
        if (options.print) {
          io.stdout(`${JSON.stringify(config, null, 2)}\n`);
          return;
        }
        const services = Object.values(config.services);
        const realServers = services.reduce((n, s) => n + s.realServers.length, 0);
        const mode = config.standalone
          ? "standalone (lvsq run)"
          : `${config.sites.length} sites, ${config.probes.length} probes, ${config.directors.length} directors`;
        io.stdout(
          `${file}: ok — cluster ${config.cluster}, ${services.length} service${services.length === 1 ? "" : "s"}, ` +
            `${realServers} real server${realServers === 1 ? "" : "s"}, ${mode}\n`,
        );
      } catch (error) {
        if (error instanceof ConfigError) {
          io.stderr(`${error.message}\n`);
          throw new ExitWith(ExitCode.config);
        }
        throw error;
      }
    });
}
