import { Argument, type Command } from "commander";
import type { ImportOptions } from "../actions/import.js";
import type { CliIo } from "../io.js";

export function registerImport(program: Command, io: CliIo): void {
  program
    .command("import")
    .summary("turn a keepalived.conf or ldirectord.cf into an lvsq config (standalone, for lvsq run)")
    .description(
      "Reads a keepalived or ldirectord configuration and prints the same virtual\n" +
        "services as an lvsq fleet config that validates, with a comment for\n" +
        "everything that has no exact equivalent (VRRP, digests, per-real-server\n" +
        "checks, retry delays...). Nothing is changed on this machine.\n" +
        "\n" +
        "keepalived: include files (wildcards too), virtual_server IP PORT | fwmark N\n" +
        "| group NAME (virtual_server_group members become one service each),\n" +
        "lvs_sched/lb_algo, lvs_method/lb_kind, persistence, sorry_server ->\n" +
        "fallback, inhibit_on_failure -> onDown: quiesce, quorum/hysteresis ->\n" +
        "weightQuorum, notify_up/down and quorum_up/down -> notify hooks, delay_loop\n" +
        "-> interval, connect_timeout -> timeout, retry -> fall (retry + 1);\n" +
        "HTTP_GET, SSL_GET, TCP_CHECK, MISC_CHECK, SMTP_CHECK, DNS_CHECK, UDP_CHECK\n" +
        "and PING_CHECK -> http, https, tcp, exec, smtp, dns, udp, icmp.\n" +
        "\n" +
        "ldirectord: global defaults, virtual=IP:PORT | MARK, real= lines\n" +
        "(gate/masq/ipip, weight, request/receive), checktype\n" +
        "(negotiate/connect/ping/external/on/off), service, request, receive,\n" +
        "checkport, checkinterval, checktimeout/negotiatetimeout, failurecount,\n" +
        "quiescent, fallback.\n" +
        "\n" +
        "The result is a standalone config (lvsq run): add sites, probes and\n" +
        "directors to run it as a fleet. Mapping: docs/import.md.",
    )
    .addArgument(new Argument("<format>", "keepalived | ldirectord").choices(["keepalived", "ldirectord"]))
    .argument("<file>", "the keepalived.conf or ldirectord.cf to read")
    .option("--out <file>", "write the config to this file instead of stdout")
    .option("--cluster <name>", "cluster name (default: keepalived's router_id, else imported)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ lvsq import keepalived /etc/keepalived/keepalived.conf > /etc/lvsq/lvs.yaml\n" +
        "  $ lvsq import ldirectord /etc/ha.d/ldirectord.cf --cluster web --out lvs.yaml\n" +
        "  $ lvsq validate lvs.yaml && sudo lvsq run --config lvs.yaml --dry-run",
    )
    .action(async (format: "keepalived" | "ldirectord", file: string, options: ImportOptions) => {
      const { runImport } = await import("../actions/import.js");
      runImport(format, file, options, io);
    });
}
