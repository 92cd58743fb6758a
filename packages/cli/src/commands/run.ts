import type { Command } from "commander";
import type { RunOptions } from "../actions/run.js";
import { AUTH_FILE_HELP, DRY_RUN_HELP, METRICS_HELP } from "../help.js";
import type { CliIo } from "../io.js";

export function registerRun(program: Command, io: CliIo): void {
  program
    .command("run")
    .summary("standalone mode: probe and apply on this node, no NATS (replaces the shell loop)")
    .description(
      "The whole job in one process: checks every real server, flips a server only after rise/fall results,\n" +
        "removes it (or sets weight 0 with onDown: quiesce), installs the fallback servers when none is up and\n" +
        "takes them out when one is back. Needs a config without `probes` (see docs/examples/seed.yaml).\n" +
        "`lvsq explain` and `lvsq admin` talk to it over the unix socket /run/lvsq/<cluster>.sock\n" +
        "(LVSQ_CONTROL_SOCKET overrides). Admin overrides (drain/disable) are kept in\n" +
        "/var/lib/lvsq/<cluster>.admin.json (LVSQ_STATE_DIR overrides the folder) and applied again at every start.",
    )
    .requiredOption("--config <file>", "fleet config (YAML) without probes/sites/directors")
    .option("--dry-run", DRY_RUN_HELP)
    .option("--metrics <host:port>", METRICS_HELP)
    .option("--metrics-auth <file>", AUTH_FILE_HELP)
    .addHelpText(
      "after",
      '\nExamples:\n  $ lvsq run --config /etc/lvsq/seed.yaml\n  $ lvsq run --config seed.yaml --dry-run --log-format pretty\n  $ lvsq explain --config seed.yaml web\n  $ lvsq admin drain web 192.168.1.103:80 --reason "kernel upgrade" --config seed.yaml',
    )
    .action(async (options: RunOptions, command: Command) => {
      const { runStandalone } = await import("../actions/run.js");
      await runStandalone(options, command, io);
    });
}
