import { OPERATOR_USER, VIEWER_USER } from "@lvsq/config";
import type { Command } from "commander";
import type { NatsConfigOptions } from "../actions/nats-config.js";
import type { CliIo } from "../io.js";

export function registerNatsConfig(program: Command, io: CliIo): void {
  program
    .command("nats-config")
    .summary("print nats-server configs for a fleet: users with least privilege, cluster nodes, leaf nodes")
    .description(
      "Prints a nats-server `authorization` block generated from the fleet config, one user per identity:\n" +
        "  probe     publishes only its own votes and status (no probe can vote for another)\n" +
        "  director  publishes only its own status, events, and its pair's lease and desired keys; reads KV\n" +
        "  operator  lvsq admin: writes the admin bucket, reads the rest\n" +
        "  viewer    lvsq status, lvsq explain, dashboards, exporters: reads, never writes\n" +
        "With --nkeys DIR every user logs in with an nkey: DIR/<user>.nk holds its seed (created, mode 0600,\n" +
        "when missing; never overwritten) and the block holds only public keys. Without it, passwords stay out of\n" +
        "the file: nats-server reads them from its environment, one variable per user.\n" +
        "With --server N it prints instead the whole nats-server.conf of cluster node N, the Nth URL of\n" +
        "nats.servers (JetStream on, routes to every node on port 6222, leaf nodes on 7422); with --leaf SITE\n" +
        "the config of a site's leaf node (its probes publish to it; it forwards to every cluster node).",
    )
    .requiredOption("--config <file>", "fleet config (YAML)")
    .option("--operator <user>", "user name for lvsq admin", OPERATOR_USER)
    .option("--viewer <user>", "user name for lvsq status / explain and other read-only clients", VIEWER_USER)
    .option("--nkeys <dir>", "log in with nkeys: read or create DIR/<user>.nk seeds")
    .option("--server <n>", "print the nats-server.conf of cluster node N (1-based, in nats.servers order)")
    .option("--leaf <site>", "print the nats-server.conf of SITE's leaf node")
    .addHelpText(
      "after",
      "\nExamples:\n  $ lvsq nats-config --config /etc/lvsq/fleet.yaml --nkeys /root/lvsq-nkeys > /etc/nats/lvsq-users.conf\n" +
        "  # in nats-server.conf:  include ./lvsq-users.conf\n" +
        "  # copy /root/lvsq-nkeys/probe-dc1.nk to probe-dc1's host, the path its creds field names\n" +
        "  $ lvsq nats-config --config /etc/lvsq/fleet.yaml > /etc/nats/lvsq-users.conf   # passwords instead\n" +
        "  # each agent:           LVSQ_NATS_URL=nats://probe-dc1:$PASSWORD@nats-1:4222 lvsq probe ...\n" +
        "  $ lvsq nats-config --config /etc/lvsq/fleet.yaml --server 2 > /etc/nats/nats-server.conf   # on nats-2\n" +
        "  $ lvsq nats-config --config /etc/lvsq/fleet.yaml --leaf dc1 > /etc/nats/leaf.conf         # in site dc1",
    )
    .action(async (options: NatsConfigOptions) => {
      const { runNatsConfig } = await import("../actions/nats-config.js");
      await runNatsConfig(options, io);
    });
}
