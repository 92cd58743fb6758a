import { z } from "zod";
import { Token } from "./ids.js";
import { VirtualServiceEntry } from "./table.js";

/** KV `lvsq_<cluster>_desired`, key `<pair>.<service>`: the leader's decision for one service. */
export const DesiredRecord = z.object({
  v: z.literal(1),
  cluster: Token,
  pair: Token,
  service: Token,
  /** The leader's lease revision: followers never apply an older epoch. */
  epoch: z.number().int().min(0),
  leader: Token,
  at: z.number(),
  /** null: the service should be absent from the table. */
  table: VirtualServiceEntry.nullable(),
  reasons: z.array(z.looseObject({ rs: z.string(), rule: z.string() })),
});
export type DesiredRecord = z.infer<typeof DesiredRecord>;

export const AdminAction = z.enum(["drain", "disable", "enable"]);
export type AdminAction = z.infer<typeof AdminAction>;

/** KV `lvsq_<cluster>_admin`, key `<service>.<rs-key>`: an operator's override, surviving restarts. */
export const AdminRecord = z.object({
  v: z.literal(1),
  service: Token,
  rs: z.string(),
  action: AdminAction,
  author: z.string().max(128),
  reason: z.string().max(512),
  at: z.number(),
  /** For drain: take the server out once this time passes even if connections remain. */
  deadline: z.number().optional(),
});
export type AdminRecord = z.infer<typeof AdminRecord>;
