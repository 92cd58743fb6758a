import { z } from "zod";
import { Token } from "./ids.js";

export const ProbeHeartbeat = z.object({
  v: z.literal(1),
  type: z.literal("probe"),
  cluster: Token,
  probe: Token,
  site: Token,
  version: z.string(),
  sentAt: z.number(),
  uptimeMs: z.number(),
  checksPerSecond: z.number(),
  checksTotal: z.number().int(),
  errorsTotal: z.number().int(),
  /** false when the probe was cut off from NATS (could not publish) at some point since its last heartbeat. */
  connected: z.boolean(),
});
export type ProbeHeartbeat = z.infer<typeof ProbeHeartbeat>;

export const DirectorRole = z.enum(["standalone", "leader", "follower", "isolated"]);
export type DirectorRole = z.infer<typeof DirectorRole>;

export const DirectorHeartbeat = z.object({
  v: z.literal(1),
  type: z.literal("director"),
  cluster: Token,
  director: Token,
  pair: Token.optional(),
  role: DirectorRole,
  version: z.string(),
  sentAt: z.number(),
  uptimeMs: z.number(),
  epoch: z.number().int().min(0),
  appliedEpoch: z.number().int().min(0),
  tableDigest: z.string(),
  lastApplyAt: z.number().optional(),
  lastApplyMs: z.number().optional(),
  counts: z.object({
    votesAccepted: z.number().int(),
    votesDropped: z.number().int(),
    applies: z.number().int(),
    applyErrors: z.number().int(),
    driftRepairs: z.number().int(),
    realServersUp: z.number().int(),
    realServersDown: z.number().int(),
    /** Inbound vote messages refused before the engine saw them (not JSON, or failing the schema). */
    messagesDropped: z.number().int().optional(),
  }),
  /**
   * Real servers being drained, with this director's kernel connection count (active + inactive) for each;
   * `null` while the server is not yet at weight 0 here or the count is unknown. A pair's leader ends a
   * drain once every director of the pair reports 0 (docs/pairs.md).
   */
  drains: z
    .array(z.object({ service: Token, rs: z.string(), connections: z.number().int().min(0).nullable() }))
    .max(10_000)
    .optional(),
});
export type DirectorHeartbeat = z.infer<typeof DirectorHeartbeat>;
