import { z } from "zod";
import { Token } from "./ids.js";

export const VoteState = z.enum(["up", "down", "abstain"]);
export type VoteState = z.infer<typeof VoteState>;

/**
 * A flip under way: the probe's last `count` checks in a row said `state`, and its vote turns `state` after
 * `needed` (the check's rise or fall). Absent when the latest check agrees with the vote, or after an
 * abstention. It never counts towards quorum: it tells a reader why a `down` vote carries "HTTP 200".
 */
export const VotePending = z.object({
  state: z.enum(["up", "down"]),
  count: z.number().int().min(1),
  needed: z.number().int().min(1),
});
export type VotePending = z.infer<typeof VotePending>;

export const Vote = z.object({
  /** The real server, canonical `ip:port`. */
  rs: z.string().max(64),
  state: VoteState,
  /** Epoch ms since the probe's vote for this real server last changed. */
  since: z.number(),
  latencyMs: z.number().min(0),
  reason: z.string().max(256),
  /** Weight from a dynamic check (exec exit 2..255), if any. */
  weight: z.number().int().min(0).max(65535).optional(),
  /** The reason is the last check's; when that check disagrees with `state`, how far the flip has got. */
  pending: VotePending.optional(),
  /** An up vote with something to see soon (a certificate close to expiry); `reason` says what. */
  warning: z.boolean().optional(),
});
export type Vote = z.infer<typeof Vote>;

/** One probe's full view of one service, sent once per round and at once on a flip. */
export const VoteBatch = z.object({
  v: z.literal(1),
  cluster: Token,
  probe: Token,
  site: Token,
  service: Token,
  /** Strictly increasing per probe (across services), so replays and reordering are detected. */
  seq: z.number().int().min(0),
  sentAt: z.number(),
  intervalMs: z.number().int().min(1),
  votes: z.array(Vote).max(100_000),
});
export type VoteBatch = z.infer<typeof VoteBatch>;
