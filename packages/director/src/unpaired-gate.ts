import type { Bus } from "@lvsq/bus";
import type { Logger } from "@lvsq/runtime";
import type { AdminWatch } from "./admin-watch.js";

/**
 * Whether an unpaired director may decide, from what it knows of the admin overrides. It decides once it
 * has read them in full, and then keeps deciding on that view when later reads fail: it has no partner to
 * diverge from, and freezing would leave a real failure in its table. On a NATS server without JetStream
 * there is no admin bucket, so no override can exist: it decides at once, and says so once. (Paired
 * directors need a current view to lead: pair-lead-gate.ts.)
 */
export class UnpairedGate {
  private withoutJetStream = false;

  constructor(
    private readonly options: {
      adminWatch: AdminWatch | undefined;
      bus: Bus;
      logger: Logger;
      /** The gate opened without a read (no JetStream): hand the decisions held so far to the kernel. */
      opened: () => void;
    },
  ) {}

  decides(): boolean {
    const { adminWatch, bus, logger } = this.options;
    if (!adminWatch || adminWatch.complete()) return true;
    if (bus.hasJetStream() !== false) return false;
    if (!this.withoutJetStream) {
      this.withoutJetStream = true;
      logger.warn(
        {},
        "NATS has no JetStream: no admin overrides (lvsq admin) for this director; deciding on votes alone",
      );
      this.options.opened();
    }
    return true;
  }
}
