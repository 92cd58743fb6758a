import { z } from "zod";
import { FleetConfigInput } from "./schema.js";

/** The JSON Schema of the config file (what an editor validates while you type), from the zod schema. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(FleetConfigInput, {
    io: "input",
    unrepresentable: "any",
    target: "draft-2020-12",
  });
  return { ...schema, title: "lvsq fleet config", $id: "https://lvsq.dev/schema/fleet-config.json" };
}
