import { LVSQ_VERSION } from "@lvsq/protocol";
import { ExitCode } from "@lvsq/runtime";
import { Command, CommanderError, Option } from "commander";
import { registerAdmin } from "./commands/admin.js";
import { registerDirector } from "./commands/director.js";
import { registerExplain } from "./commands/explain.js";
import { registerImport } from "./commands/import.js";
import { registerNatsConfig } from "./commands/nats-config.js";
import { registerProbe } from "./commands/probe.js";
import { registerRun } from "./commands/run.js";
import { registerSchema } from "./commands/schema.js";
import { registerStatus } from "./commands/status.js";
import { registerValidate } from "./commands/validate.js";
import { type CliIo, ExitWith, processIo } from "./io.js";

const EXAMPLES = `
Examples:
  $ lvsq validate /etc/lvsq/fleet.yaml                  check a config before you deploy it
  $ lvsq run --config seed.yaml                         standalone: the shell loop, replaced (no NATS)
  $ lvsq probe --config fleet.yaml --id probe-dc1       a probe agent: checks and votes over NATS
  $ lvsq director --config fleet.yaml --id lvs-a        a director agent: quorum → ipvs table
  $ lvsq status --config fleet.yaml --watch             the whole fleet, redrawn on every change
  $ lvsq explain --config fleet.yaml web                why each real server is in or out
  $ lvsq admin drain web 198.51.100.12:80 --config fleet.yaml --reason "kernel upgrade"
  $ lvsq schema > lvsq.schema.json                      JSON Schema for your editor
  $ lvsq import keepalived /etc/keepalived/keepalived.conf > lvs.yaml   start from what you run today

Exit codes: 0 ok, 1 runtime failure, 2 usage error, 78 invalid config (EX_CONFIG).
Docs: docs/configuration.md, docs/operations.md`;

export type GlobalOptions = { logLevel: string; logFormat: "json" | "pretty" };

export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command("lvsq")
    .description(
      "Quorum-voted health checking for Linux Virtual Server (LVS/IPVS).\n" +
        "Probes on several sites vote on every real server; directors change their ipvs table only on quorum.",
    )
    .version(LVSQ_VERSION, "-V, --version", "print the lvsq version")
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
        .default("info"),
    )
    .addOption(
      new Option("--log-format <format>", "log format: one JSON line per event, or pretty for a terminal")
        .choices(["json", "pretty"])
        .default("json"),
    )
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", EXAMPLES)
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  // Listed in --help in this order: the agents, looking at the fleet, operating it, then config tools.
  registerRun(program, io);
  registerProbe(program, io);
  registerDirector(program, io);
  registerStatus(program, io);
  registerExplain(program, io);
  registerAdmin(program, io);
  registerValidate(program, io);
  registerSchema(program, io);
  registerNatsConfig(program, io);
  registerImport(program, io);
  for (const command of program.commands)
    command.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  return program;
}

/** Runs the CLI and returns the process exit code (never calls process.exit itself). */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: "user" });
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof ExitWith) return error.code;
    if (error instanceof CommanderError) {
      if (
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version" ||
        error.code === "commander.help"
      )
        return ExitCode.ok;
      return ExitCode.usage;
    }
    io.stderr(`lvsq: ${error instanceof Error ? error.message : String(error)}\n`);
    return ExitCode.failure;
  }
}
