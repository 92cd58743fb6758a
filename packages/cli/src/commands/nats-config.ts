import { natsAuthorization, passwordVariable } from "@lvsq/bus";
import type { Command } from "commander";
import { loadConfigOrExit } from "../common.js";
import type { CliIo } from "../io.js";

export function registerNatsConfig(program: Command, io: CliIo): void {
  program
    .command("nats-config")
    .summary("print the nats-server users and permissions for a fleet")
    .description(
      "Prints a nats-server `authorization` block generated from the fleet config: one user per probe that may\n" +
        "publish only its own votes and status (so no probe can vote for another), one per director and an\n" +
        "operator user (for status, explain and admin) that may do anything but publish votes. Passwords stay\n" +
        "out of the file: nats-server reads them from its environment, one variable per user.",
    )
    .requiredOption("--config <file>", "fleet config (YAML)")
    .option("--operator <user>", "user name for lvsq status / explain / admin", "lvsq-operator")
    .addHelpText(
      "after",
      "\nExamples:\n  $ lvsq nats-config --config /etc/lvsq/fleet.yaml > /etc/nats/lvsq-users.conf\n" +
        "  # in nats-server.conf:  include ./lvsq-users.conf\n" +
        "  # each agent:           LVSQ_NATS_URL=nats://probe-dc1:$PASSWORD@nats-1:4222 lvsq probe ...",
    )
    .action(async (options: { config: string; operator: string }) => {
      const config = await loadConfigOrExit(options.config, io);
      io.stdout(natsAuthorization(config, options.operator));
      const users = [
        ...config.probes.map((p) => p.id),
        ...config.directors.map((d) => d.id),
        options.operator,
      ];
      io.stderr(`set in nats-server's environment: ${users.map(passwordVariable).join(" ")}\n`);
    });
}
