import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  fleetPermissions,
  natsAuthorization,
  natsClusterNodeConfig,
  natsLeafConfig,
  passwordVariable,
  userNkey,
} from "@lvsq/bus";
import { LvsqError } from "@lvsq/protocol";
import { ExitCode } from "@lvsq/runtime";
import { loadConfigOrExit } from "../common.js";
import { type CliIo, ExitWith } from "../io.js";

export type NatsConfigOptions = {
  config: string;
  operator: string;
  viewer: string;
  nkeys?: string;
  server?: string;
  leaf?: string;
};

/** `lvsq nats-config`: the nats-server authorization block for the fleet's identities. */
export async function runNatsConfig(options: NatsConfigOptions, io: CliIo): Promise<void> {
  const config = await loadConfigOrExit(options.config, io);
  if (options.server !== undefined || options.leaf !== undefined) {
    io.stdout(serverConfig(config, options, io));
    return;
  }
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

/** `--server N` / `--leaf SITE`: a whole nats-server.conf, or a usage error naming what is wrong. */
function serverConfig(
  config: Parameters<typeof natsLeafConfig>[0],
  options: NatsConfigOptions,
  io: CliIo,
): string {
  const fail = (message: string): never => {
    io.stderr(`error: ${message}\n`);
    throw new ExitWith(ExitCode.usage);
  };
  if (options.server !== undefined && options.leaf !== undefined) fail("--server and --leaf: choose one");
  if (options.nkeys !== undefined) fail("--nkeys makes the users file; run it without --server / --leaf");
  try {
    if (options.leaf !== undefined) return natsLeafConfig(config, options.leaf);
    const index = Number(options.server);
    if (!Number.isInteger(index) || index < 1)
      fail(`--server: expected a node number (1, 2, 3), got "${options.server}"`);
    return natsClusterNodeConfig(config, index);
  } catch (error) {
    if (error instanceof Error && !(error instanceof RangeError)) throw error;
    return fail(error instanceof Error ? error.message : String(error));
  }
}
