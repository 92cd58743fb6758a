import type { Command } from "commander";
import type { CliIo } from "../io.js";

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
      const { runValidate } = await import("../actions/validate.js");
      await runValidate(file, options, io);
    });
}
