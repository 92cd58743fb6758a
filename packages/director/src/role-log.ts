import type { DirectorRole } from "@lvsq/protocol";
import type { Logger } from "@lvsq/runtime";

/**
 * One log line each time the director's role changes. Isolation cannot be published (NATS is gone), so the
 * log is where an operator learns of it: the bus's status changes are noted the moment they happen, not at
 * the next heartbeat. A paired director's role follows its lease, so it runs a lease round first (which
 * isolates it at once when NATS is gone).
 */
export class RoleLog {
  private last: DirectorRole | undefined;
  private stopped = false;

  constructor(
    private readonly logger: Logger,
    private readonly role: () => DirectorRole,
    private readonly pair: { poll(): Promise<void> } | undefined,
    /** Told of every change (the role notify hook). */
    private readonly onChange?: (role: DirectorRole, previous: DirectorRole | undefined) => void,
  ) {}

  /** Logs the current role if it changed since the last line. */
  note(): void {
    const role = this.role();
    if (this.stopped || role === this.last) return;
    const previous = this.last;
    this.last = role;
    this.onChange?.(role, previous);
    if (role === "isolated") {
      this.logger.warn(
        { role, previous },
        "director isolated: cut off from NATS, keeping the kernel table as it is",
      );
    } else {
      this.logger.info({ role, previous }, `director role: ${role}`);
    }
  }

  /** The bus reported a status change (connected, disconnected, reconnected, …). */
  busStatus(type: string): void {
    if (this.stopped || (type !== "disconnected" && type !== "reconnected" && type !== "connected")) return;
    if (!this.pair) {
      this.note();
      return;
    }
    void this.pair
      .poll()
      .then(() => this.note())
      .catch(() => {});
  }

  stop(): void {
    this.stopped = true;
  }
}
