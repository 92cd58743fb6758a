import { configJsonSchema } from "@lvsq/config";
import type { CliIo } from "../io.js";

/** `lvsq schema`: the JSON Schema of the fleet config. */
export function runSchema(io: CliIo): void {
  io.stdout(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
}
