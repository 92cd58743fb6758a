import type { Command } from "commander";
import type { ProbeOptions } from "../actions/probe.js";
import { AUTH_FILE_HELP, METRICS_HELP } from "../help.js";
import type { CliIo } from "../io.js";

export function registerProbe(program: Command, io: CliIo): void {
  program
    .command("probe")
    .summary("run a probe agent: check real servers, publish health votes over NATS")
    .description(
      "Checks every real server of the services assigned to this probe (all, unless a service lists `probes`)\n" +
        "and publishes one vote batch per service per interval, and at once when a vote flips (after rise/fall).\n" +
        "Keeps checking while NATS is down and republishes its full state on reconnect.\n" +
        "SIGHUP reloads the config (a bad one is refused, the old one kept); SIGTERM stops within 2 s.\n" +
        "A probe with `forwarding` in its `probes` entry runs on a director host and checks every DR/tunnel\n" +
        "real server through the VIP (root or CAP_NET_ADMIN, and nft; it removes its pins on SIGTERM):\n" +
        'docs/checks.md, section "Through the forwarding path".',
    )
    .requiredOption("--config <file>", "fleet config (YAML)")
    .requiredOption("--id <id>", "this probe's id in the config's `probes`")
    .option("--max-concurrent <n>", "checks in flight at once", (v) => Number.parseInt(v, 10), 512)
    .option("--metrics <host:port>", METRICS_HELP)
    .option("--metrics-auth <file>", AUTH_FILE_HELP)
    .addHelpText(
      "after",
      "\nExamples:\n  $ lvsq probe --config /etc/lvsq/fleet.yaml --id probe-dc1\n  $ LVSQ_NATS_URL=nats://10.0.0.5:4222 lvsq probe --config fleet.yaml --id probe-dc2 --log-format pretty\n  $ sudo lvsq probe --config /etc/lvsq/fleet.yaml --id lvs-a-path        # on lvs-a: checks through its forwarding path",
    )
    .action(async (options: ProbeOptions, command: Command) => {
      const { runProbe } = await import("../actions/probe.js");
      await runProbe(options, command, io);
    });
}
