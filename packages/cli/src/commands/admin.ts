import { OPERATOR_USER } from "@lvsq/config";
import type { AdminAction } from "@lvsq/protocol";
import { Argument, type Command } from "commander";
import type { AdminOptions } from "../actions/admin.js";
import type { CliIo } from "../io.js";

export function registerAdmin(program: Command, io: CliIo): void {
  program
    .command("admin")
    .summary("drain, disable or enable a real server (an override every director applies over votes)")
    .description(
      "Writes an admin record to the cluster's admin KV bucket (key <service>.<rs>), with author, reason and " +
        "time. Directors apply it over the votes and it survives their restarts. With a standalone config (no\n" +
        "probes) it goes to the local `lvsq run` over its control socket, which keeps it in\n" +
        "/var/lib/lvsq/<cluster>.admin.json (LVSQ_STATE_DIR); when lvsq run is not running it is written to that\n" +
        "file directly and applied at the next start.\n" +
        "  drain    weight 0 (no new connections); out once active connections reach 0 or --deadline passes\n" +
        "  disable  out of the table now\n" +
        "  enable   back under the votes' control\n" +
        "The author is $SUDO_USER (or $USER) @ this host.",
    )
    .addArgument(new Argument("<action>", "drain | disable | enable").choices(["drain", "disable", "enable"]))
    .argument("<service>", "service id from the config")
    .argument("<rs>", "real server ip:port, as in the config")
    .requiredOption("--config <file>", "fleet config (YAML)")
    .option("--reason <text>", "why, shown in status and explain")
    .option("--deadline <duration>", "drain only: take it out after this long even with connections left")
    .option(
      "--timeout <duration>",
      "give up after this long over NATS, naming the step it was in (connect, bucket, read, write)",
      "30s",
    )
    .option("--creds <file>", `NATS credentials file (default: the config's, for user ${OPERATOR_USER})`)
    .addHelpText(
      "after",
      '\nExamples:\n  $ lvsq admin drain web 192.168.1.103:80 --reason "kernel upgrade" --deadline 30m --config fleet.yaml\n' +
        "  $ lvsq admin enable web 192.168.1.103:80 --config fleet.yaml\n" +
        "  $ sudo lvsq admin disable web 192.168.1.102:80 --config /etc/lvsq/seed.yaml   # standalone: lvsq run",
    )
    .action(
      async (action: AdminAction, service: string, rs: string, options: AdminOptions, command: Command) => {
        const { runAdmin } = await import("../actions/admin.js");
        await runAdmin({ action, service, rs }, options, command, io);
      },
    );
}
