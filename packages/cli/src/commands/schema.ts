import type { Command } from "commander";
import type { CliIo } from "../io.js";

export function registerSchema(program: Command, io: CliIo): void {
  program
    .command("schema")
    .summary("print the JSON Schema of the fleet config (for editors)")
    .description(
      "Prints the JSON Schema generated from the same zod schemas the agents validate with.\n" +
        "Point your editor's YAML language server at it for completion and inline errors.",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  $ lvsq schema > lvsq.schema.json\n  # then, first line of fleet.yaml:\n  # yaml-language-server: $schema=./lvsq.schema.json",
    )
    .action(async () => {
      const { runSchema } = await import("../actions/schema.js");
      runSchema(io);
    });
}
