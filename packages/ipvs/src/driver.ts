import type { IpvsTable } from "@lvsq/protocol";
import type { IpvsOp } from "./ops.js";

export type ApplyResult = {
  /** Ops handed to the kernel (all of them took, or `apply` would have thrown an IpvsadmError). */
  applied: number;
  durationMs: number;
  /**
   * Messages of writes that were refused but whose effect is already there ("Service already
   * exists" for an identical entry, "No such destination" on a delete): idempotent successes.
   */
  warnings: string[];
};

/** The kernel IPVS table behind one small interface: `ipvsadm` for real, `memory` for tests and dry-run. */
export interface IpvsDriver {
  /** The whole table, sorted and normalised (see `sortTable`). */
  read(): Promise<IpvsTable>;
  /** Applies ops in order; throws IpvsadmError naming the ops that did not take. */
  apply(ops: readonly IpvsOp[]): Promise<ApplyResult>;
  /**
   * Active + inactive connections per service key, then real-server address (for draining: a drained
   * server leaves once it has none). Drivers that cannot tell omit it.
   */
  connections?(): Promise<Map<string, Map<string, number>>>;
}
