import type { Command } from "commander";
import type { DirectorOptions } from "../actions/director.js";
import { AUTH_FILE_HELP, DRY_RUN_HELP, METRICS_HELP } from "../help.js";
import type { CliIo } from "../io.js";

export function registerDirector(program: Command, io: CliIo): void {
  program
    .command("director")
    .summary("run a director agent: votes from NATS → quorum → the local ipvs table")
    .description(
      "Collects the probes' votes, decides by quorum (fail-static when votes are stale or split) and applies\n" +
        "add / remove / quiesce / fallback to this node's ipvs table (over netlink, or with ipvsadm), one batch at a time.\n" +
        "It reads the kernel table first and treats it as current, repairs drift every reconcileInterval, and\n" +
        "never touches virtual services the config does not list. Cut off from NATS it keeps its table and\n" +
        "reports `isolated`. SIGHUP reloads the config; SIGTERM stops and leaves the table as it is.",
    )
    .requiredOption("--config <file>", "fleet config (YAML)")
    .requiredOption("--id <id>", "this director's id in the config's `directors`")
    .option("--dry-run", DRY_RUN_HELP)
    .option("--metrics <host:port>", METRICS_HELP)
    .option("--metrics-auth <file>", AUTH_FILE_HELP)
    .addHelpText(
      "after",
      "\nExamples:\n  $ lvsq director --config /etc/lvsq/fleet.yaml --id lvs-a\n  $ lvsq director --config fleet.yaml --id lvs-a --dry-run --log-format pretty",
    )
    .action(async (options: DirectorOptions, command: Command) => {
      const { runDirector } = await import("../actions/director.js");
      await runDirector(options, command, io);
    });
}
