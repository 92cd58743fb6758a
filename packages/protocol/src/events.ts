import { z } from "zod";
import { Token } from "./ids.js";

/**
 * The envelope of `lvsq.<cluster>.events.<service>`. The event body is the engine's (or the agent's)
 * discriminated union; receivers validate the envelope and the `type`, and keep unknown fields so a newer
 * director's extra numbers reach a dashboard unchanged.
 */
export const EventEnvelope = z.object({
  v: z.literal(1),
  cluster: Token,
  director: Token,
  service: z.string(),
  at: z.number(),
  event: z.looseObject({ type: z.string() }),
});
export type EventEnvelope = z.infer<typeof EventEnvelope>;
