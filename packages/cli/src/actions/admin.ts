import { hostname, userInfo } from "node:os";
import { everyServerOnceMs } from "@lvsq/bus";
import { formatDuration, OPERATOR_USER, parseDuration } from "@lvsq/config";
import { AdminFile, adminFilePath } from "@lvsq/director";
import { type AdminAction, AdminRecord, buckets, canonicalRealServer, kvKeys } from "@lvsq/protocol";
import { ExitCode } from "@lvsq/runtime";
import type { Command } from "commander";
import { connectBus, loadConfigOrExit, oneShotBusLogger, terminalLogger } from "../common.js";
import { CommandTimeout, withCommandDeadline } from "../command-deadline.js";
import { controlSocketPath, sendControlAdmin } from "../control-socket.js";
import { type CliIo, ExitWith } from "../io.js";

export type AdminOptions = {
  config: string;
  reason?: string;
  deadline?: string;
  creds?: string;
  /** The whole command's deadline over NATS (`--timeout`, its default is the command's). */
  timeout: string;
};

/** `lvsq admin <action> <service> <rs>`: the override, over NATS or to the local `lvsq run`. */
export async function runAdmin(
  { action, service: serviceId, rs: rsText }: { action: AdminAction; service: string; rs: string },
  options: AdminOptions,
  command: Command,
  io: CliIo,
): Promise<void> {
  const config = await loadConfigOrExit(options.config, io);
  const service = config.services[serviceId];
  if (!service) {
    const known = Object.keys(config.services).join(", ") || "(none)";
    return usage(io, `service "${serviceId}" is not in the config; expected one of: ${known}`);
  }
  // A dr/tunnel server written with its own port is also found by that port (its checks' address).
  const written = canonicalRealServer(rsText);
  const rs = service.realServers.find((r) => r.address === written || r.checkAddress === written)?.address;
  if (!rs) {
    const known = service.realServers.map((r) => r.address).join(", ");
    return usage(io, `real server "${rsText}" is not in service ${serviceId}; expected one of: ${known}`);
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
  const timeoutMs = parseDuration(options.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0)
    return usage(io, `--timeout: expected a duration like 30s or 2m, got "${options.timeout}"`);

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
  if (config.standalone) return adminStandalone(io, config.cluster, record, options);
  const logger = oneShotBusLogger(command, terminalLogger(command, io, "lvsq admin"));
  const bucket = buckets.admin(config.cluster);
  const key = kvKeys.admin(serviceId, rs);
  // What a timeout at this point means for the record (a put that was sent may still land).
  let outcome = "the admin record was not written";
  try {
    await withCommandDeadline(
      timeoutMs,
      `connecting to NATS at ${config.nats.servers.join(", ")}`,
      async (steps) => {
        const bus = await connectBus(config, "lvsq-admin", logger, io, {
          identity: OPERATOR_USER,
          creds: options.creds,
          firstConnectWaitMs: everyServerOnceMs(config.nats.servers),
        });
        try {
          steps.current = `opening KV bucket ${bucket}`;
          const kv = await bus.kv(bucket);
          steps.current = `reading key ${key}`;
          const previous = await kv.get(key);
          // A late answer must not write a record the operator was told was not written.
          if (steps.expired) return;
          steps.current = `writing key ${key}`;
          outcome = "the admin record may have been written: check with lvsq status";
          const revision = await kv.put(key, record);
          outcome = "the admin record was written";
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
          // After the deadline the operator has had the timeout's message; a late failure adds nothing.
          if (steps.expired) throw error;
          const nats = config.nats.servers.join(", ");
          io.stderr(
            bus.isConnected()
              ? `error: could not write the admin record to ${bucket} key ${key} (NATS at ${nats}): ` +
                  `${error instanceof Error ? error.message : String(error)}\n`
              : `error: cannot reach NATS at ${nats}; the admin record was not written (${bucket} key ${key})\n`,
          );
          throw new ExitWith(ExitCode.failure);
        } finally {
          steps.current = "closing the NATS connection";
          await bus.close();
        }
      },
    );
  } catch (error) {
    if (!(error instanceof CommandTimeout)) throw error;
    io.stderr(
      `error: lvsq admin timed out after ${formatDuration(error.timeoutMs)} while ${error.step}; ` +
        `${outcome} (--timeout sets the limit)\n`,
    );
    throw new ExitWith(ExitCode.failure);
  }
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

/** Standalone: hand the record to the running `lvsq run`, or keep it in the state file for its next start. */
async function adminStandalone(
  io: CliIo,
  cluster: string,
  record: AdminRecord,
  options: AdminOptions,
): Promise<void> {
  const socket = controlSocketPath(cluster);
  const file = new AdminFile(adminFilePath(cluster));
  let where: string;
  let previous: AdminRecord | undefined;
  try {
    const answer = (await sendControlAdmin(socket, record)) as { previous?: unknown };
    const parsed = AdminRecord.safeParse(answer.previous);
    previous = parsed.success ? parsed.data : undefined;
    where = `applied by lvsq run (socket ${socket}), kept in ${file.path}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      io.stderr(
        `error: lvsq run refused the override: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      throw new ExitWith(ExitCode.failure);
    }
    try {
      previous = file.save(record);
    } catch (saveError) {
      io.stderr(
        `error: lvsq run is not running (no ${socket}) and ${file.path} cannot be written: ` +
          `${saveError instanceof Error ? saveError.message : String(saveError)}\n`,
      );
      throw new ExitWith(ExitCode.failure);
    }
    where = `lvsq run is not running: kept in ${file.path}, applied when it starts`;
  }
  io.stdout(
    `${record.action} ${record.service} ${record.rs}: ${where}\n` +
      `  author ${record.author} · reason ${record.reason ? JSON.stringify(record.reason) : "(none)"} · at ${iso(record.at)}\n` +
      `  previous: ${previous ? `${previous.action} by ${previous.author} at ${iso(previous.at)}` : "none"}\n` +
      `  ${consequence(record.action).replace("directors", "lvsq run")}; check with: lvsq explain --config ${options.config} ${record.service}\n`,
  );
}

function consequence(action: AdminAction): string {
  if (action === "drain")
    return "directors set its weight to 0 and take it out when its connections end (in a pair: on both directors)";
  if (action === "disable") return "directors take it out of the table";
  return "directors put it back under the votes' control";
}

const iso = (at: number) => new Date(at).toISOString();

function usage(io: CliIo, message: string): never {
  io.stderr(`error: ${message}\n`);
  throw new ExitWith(ExitCode.usage);
}
