import { hostname, userInfo } from "node:os";
import { OPERATOR_USER, parseDuration } from "@lvsq/config";
import { type AdminAction, AdminRecord, buckets, canonicalEndpoint, kvKeys } from "@lvsq/protocol";
import { createLogger, ExitCode } from "@lvsq/runtime";
import { Argument, type Command } from "commander";
import { connectBus, globalFlags, loadConfigOrExit } from "../common.js";
import { type CliIo, ExitWith } from "../io.js";

type AdminOptions = { config: string; reason?: string; deadline?: string; creds?: string };

export function registerAdmin(program: Command, io: CliIo): void {
  program
    .command("admin")
    .summary("drain, disable or enable a real server (an override every director applies over votes)")
    .description(
      "Writes an admin record to the cluster's admin KV bucket (key <service>.<rs>), with author, reason and " +
        "time. Directors apply it over the votes and it survives their restarts:\n" +
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
    .option("--creds <file>", `NATS credentials file (default: the config's, for user ${OPERATOR_USER})`)
    .addHelpText(
      "after",
      '\nExamples:\n  $ lvsq admin drain web 192.168.1.103:80 --reason "kernel upgrade" --deadline 30m --config fleet.yaml\n' +
        "  $ lvsq admin enable web 192.168.1.103:80 --config fleet.yaml",
    )
    .action(
      async (action: AdminAction, serviceId: string, rsText: string, options: AdminOptions, command) => {
        const config = await loadConfigOrExit(options.config, io);
        const service = config.services[serviceId];
        if (!service) {
          const known = Object.keys(config.services).join(", ") || "(none)";
          return usage(io, `service "${serviceId}" is not in the config; expected one of: ${known}`);
        }
        const rs = canonicalEndpoint(rsText);
        if (!rs || !service.realServers.some((r) => r.address === rs)) {
          const known = service.realServers.map((r) => r.address).join(", ");
          return usage(
            io,
            `real server "${rsText}" is not in service ${serviceId}; expected one of: ${known}`,
          );
        }
        let deadlineMs: number | undefined;
        if (options.deadline !== undefined) {
          if (action !== "drain") return usage(io, "--deadline applies to drain only");
          deadlineMs = parseDuration(options.deadline);
          if (deadlineMs === undefined)
            return usage(io, `--deadline: expected a duration like 30m or 90s, got "${options.deadline}"`);
        }
        const reason = options.reason ?? "";
        if (reason.length > 512) return usage(io, "--reason: at most 512 characters");

        const at = Date.now();
        const record: AdminRecord = AdminRecord.parse({
          v: 1,
          service: serviceId,
          rs,
          action,
          author: adminAuthor().slice(0, 128),
          reason,
          at,
          ...(deadlineMs !== undefined ? { deadline: at + deadlineMs } : {}),
        });
        const flags = globalFlags(command);
        const explicit = command.getOptionValueSourceWithGlobals("logLevel") !== "default";
        const logger = createLogger({
          level: explicit ? flags.logLevel : "warn",
          format: "json",
          destination: process.stderr,
        });
        const bus = await connectBus(config, "lvsq-admin", logger, io, {
          identity: OPERATOR_USER,
          creds: options.creds,
        });
        const bucket = buckets.admin(config.cluster);
        const key = kvKeys.admin(serviceId, rs);
        try {
          const kv = await bus.kv(bucket);
          const previous = await kv.get(key);
          const revision = await kv.put(key, record);
          const before = AdminRecord.safeParse(previous?.value);
          io.stdout(
            `${action} ${serviceId} ${rs}: written to KV ${bucket} key ${key} (revision ${revision})\n` +
              `  author ${record.author} · reason ${reason ? JSON.stringify(reason) : "(none)"} · at ${iso(at)}` +
              (record.deadline !== undefined
                ? ` · deadline ${iso(record.deadline)} (in ${options.deadline})`
                : "") +
              "\n" +
              `  previous: ${before.success ? `${before.data.action} by ${before.data.author} at ${iso(before.data.at)}` : "none"}\n` +
              `  ${consequence(action)}; check with: lvsq status --config ${options.config}\n`,
          );
        } catch (error) {
          io.stderr(
            `error: could not write the admin record to ${bucket} (NATS ${config.nats.servers.join(", ")}): ` +
              `${error instanceof Error ? error.message : String(error)}\n`,
          );
          throw new ExitWith(ExitCode.failure);
        } finally {
          await bus.close();
        }
      },
    );
}

/** Who ran the command: the sudo caller if any, else the user, at this host. */
export function adminAuthor(env: NodeJS.ProcessEnv = process.env): string {
  let user = env.SUDO_USER || env.USER || env.LOGNAME;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = "unknown";
    }
  }
  return `${user}@${hostname()}`;
}

function consequence(action: AdminAction): string {
  if (action === "drain") return "directors set its weight to 0 and take it out when its connections end";
  if (action === "disable") return "directors take it out of the table";
  return "directors put it back under the votes' control";
}

const iso = (at: number) => new Date(at).toISOString();

function usage(io: CliIo, message: string): never {
  io.stderr(`error: ${message}\n`);
  throw new ExitWith(ExitCode.usage);
}
