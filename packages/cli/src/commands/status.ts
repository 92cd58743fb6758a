import { VIEWER_USER } from "@lvsq/config";
import type { Command } from "commander";
import type { StatusOptions } from "../actions/status.js";
import { AUTH_FILE_HELP } from "../help.js";
import type { CliIo } from "../io.js";

export function registerStatus(program: Command, io: CliIo): void {
  program
    .command("status")
    .summary("show the fleet: directors, probes, every real server's state and votes, recent transitions")
    .description(
      "Listens to the cluster's heartbeats, events and votes (and the admin and desired KV buckets) and shows " +
        "one fleet view. Without --watch or --web it collects for --wait (ending early once every probe and " +
        "director reported), prints once and exits. Directors whose table digest differs from their pair's are " +
        "flagged. --json prints the documented snapshot shape (docs/status.md).",
    )
    .requiredOption("--config <file>", "fleet config (YAML)")
    .option("--json", "print the snapshot as JSON (with --watch: one JSON line per change)")
    .option("--watch", "redraw in place on every change until interrupted")
    .option(
      "--web <host:port>",
      "serve a live web page (server-sent events) on HOST:PORT until interrupted (PORT alone: loopback)",
    )
    .option("--web-auth <file>", AUTH_FILE_HELP)
    .option("--wait <duration>", "how long a one-shot status collects before printing", "3s")
    .option("--history <n>", "transitions kept", (v) => Number.parseInt(v, 10), 200)
    .option("--creds <file>", `NATS credentials file (default: the config's, for user ${VIEWER_USER})`)
    .addHelpText(
      "after",
      "\nExamples:\n  $ lvsq status --config /etc/lvsq/fleet.yaml\n  $ lvsq status --config fleet.yaml --json | jq '.services[].realServers[] | {address, state}'\n" +
        "  $ lvsq status --config fleet.yaml --watch\n  $ lvsq status --config fleet.yaml --web 127.0.0.1:8080",
    )
    .action(async (options: StatusOptions, command: Command) => {
      const { runStatus } = await import("../actions/status.js");
      await runStatus(options, command, io);
    });
}
