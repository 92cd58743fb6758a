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
import { type CliIo, ExitWith } from "../io.js";

export type ImportOptions = { out?: string; cluster?: string };

/** `lvsq import <format> <file>`: a keepalived or ldirectord config as an lvsq config that validates. */
export function runImport(
  format: "keepalived" | "ldirectord",
  file: string,
  options: ImportOptions,
  io: CliIo,
): void {
  let result: ImportResult;
  try {
    result = format === "keepalived" ? importKeepalived(file) : importLdirectord(file);
  } catch (error) {
    io.stderr(`error: cannot import ${file}: ${error instanceof Error ? error.message : String(error)}\n`);
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
}
