import { ConfigError, loadConfig } from "@lvsq/config";
import { ExitCode } from "@lvsq/runtime";
import { type CliIo, ExitWith } from "../io.js";

/** `lvsq validate <file>`: exit 0 and a summary, or 78 and every problem. */
export async function runValidate(file: string, options: { print?: boolean }, io: CliIo): Promise<void> {
  try {
    const config = await loadConfig(file);
    if (options.print) {
      io.stdout(`${JSON.stringify(config, null, 2)}\n`);
      return;
    }
    const services = Object.values(config.services);
    const realServers = services.reduce((n, s) => n + s.realServers.length, 0);
    const mode = config.standalone
      ? "standalone (lvsq run)"
      : `${config.sites.length} sites, ${config.probes.length} probes, ${config.directors.length} directors`;
    io.stdout(
      `${file}: ok — cluster ${config.cluster}, ${services.length} service${services.length === 1 ? "" : "s"}, ` +
        `${realServers} real server${realServers === 1 ? "" : "s"}, ${mode}\n`,
    );
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`${error.message}\n`);
      throw new ExitWith(ExitCode.config);
    }
    throw error;
  }
}
