import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fleetPermissions, natsAuthorization, passwordVariable, userNkey } from "@lvsq/bus";
import { LvsqError } from "@lvsq/protocol";
import { ExitCode } from "@lvsq/runtime";
import { loadConfigOrExit } from "../common.js";
import { type CliIo, ExitWith } from "../io.js";

export type NatsConfigOptions = { config: string; operator: string; viewer: string; nkeys?: string };

/** `lvsq nats-config`: the nats-server authorization block for the fleet's identities. */
export async function runNatsConfig(options: NatsConfigOptions, io: CliIo): Promise<void> {
  const config = await loadConfigOrExit(options.config, io);
  const names = { operator: options.operator, viewer: options.viewer };
  const users = fleetPermissions(config, names).map((u) => u.user);
  if (options.nkeys === undefined) {
    io.stdout(natsAuthorization(config, names));
    io.stderr(`set in nats-server's environment: ${users.map(passwordVariable).join(" ")}\n`);
    return;
  }
  const nkeys: Record<string, string> = {};
  const created: string[] = [];
  try {
    await mkdir(options.nkeys, { recursive: true, mode: 0o700 });
    for (const user of users) {
      const file = join(options.nkeys, `${user}.nk`);
      const key = await userNkey(file, true);
      nkeys[user] = key.publicKey;
      if (key.created) created.push(file);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`error: --nkeys ${options.nkeys}: ${message}\n`);
    throw new ExitWith(error instanceof LvsqError ? ExitCode.config : ExitCode.failure);
  }
  io.stdout(natsAuthorization(config, { ...names, nkeys }));
  io.stderr(
    created.length > 0
      ? `created ${created.length} nkey seed(s): ${created.join(" ")}\n` +
          "copy each to its agent's host (mode 0600, owner root or lvsq) at the path its creds field names\n"
      : `every user already had a seed in ${options.nkeys}\n`,
  );
}
