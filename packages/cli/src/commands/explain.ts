import { VIEWER_USER } from "@lvsq/config";
import type { Command } from "commander";
import type { ExplainOptions } from "../actions/explain.js";
import type { CliIo } from "../io.js";

export function registerExplain(program: Command, io: CliIo): void {
  program
    .command("explain")
    .summary("say why each real server of a service is in or out of the table")
    .description(
      "Asks a running director (over NATS; in standalone mode, the local `lvsq run` over its unix socket) and\n" +
        "prints for each real server: in/out and weight, the rule that decided, the tally against the quorum\n" +
        "thresholds, and every probe's vote by site with its age and reason.",
    )
    .requiredOption("--config <file>", "fleet config (YAML)")
    .option("--director <id>", "which director to ask (default: the first in the config)")
    .option("--json", "print the explanation as JSON")
    .option("--creds <file>", `NATS credentials file (default: the config's, for user ${VIEWER_USER})`)
    .argument("<service>", "service id")
    .argument("[rs]", "one real server (ip:port)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ lvsq explain --config fleet.yaml web\n  $ lvsq explain --config fleet.yaml web 198.51.100.12:80 --director lvs-b --json",
    )
    .action(async (service: string, rs: string | undefined, options: ExplainOptions, command: Command) => {
      const { runExplain } = await import("../actions/explain.js");
      await runExplain(service, rs, options, command, io);
    });
}
