import { writeFileSync } from "node:fs";
import {
  ConfigError,
  type ImportResult,
  importKeepalived,
  importLdirectord,
  parseConfig,
  renderImport,
} from "@lvsq/config";
import { ExitCode } from "@lvsq/runtime";
import { Argument, type Command } from "commander";
import { type CliIo, ExitWith } from "../io.js";

type ImportOptions = { out?: string; cluster?: string };

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
    .action((format: "keepalived" | "ldirectord", file: string, options: ImportOptions) => {
      let result: ImportResult;
      try {
        result = format === "keepalived" ? importKeepalived(file) : importLdirectord(file);
      } catch (error) {
        io.stderr(
          `error: cannot import ${file}: ${error instanceof Error ? error.message : String(error)}\n`,
        );
        throw new ExitWith(ExitCode.usage);
      }
      if (options.cluster !== undefined) result.config.cluster = options.cluster;
      if (Object.keys(result.config.services as object).length === 0) {
        io.stderr(`error: ${file} has no virtual server lvsq can import\n`);
        throw new ExitWith(ExitCode.usage);
      }
      const yaml = renderImport(result, `${format} ${file}`);
      const target = options.out ?? "imported.yaml";
      try {
        parseConfig(yaml, target, { env: {} });
      } catch (error) {
        // The importer should only ever write valid configs: say what failed, with the text for a bug report.
        io.stderr(`${yaml}\nerror: the imported config does not validate (please report this):\n`);
        io.stderr(`${error instanceof ConfigError ? error.message : String(error)}\n`);
        throw new ExitWith(ExitCode.failure);
      }
      if (options.out) {
        writeFileSync(options.out, yaml);
        io.stderr(
          `${options.out}: ${Object.keys(result.config.services as object).length} service(s), ${result.notes.length} note(s)\n`,
        );
      } else {
        io.stdout(yaml);
      }
    });
}
