import {
  type IpvsDriver,
  IpvsNetlinkError,
  type IpvsOp,
  type IpvsadmError,
  plan,
  tableAfterOps,
} from "@lvsq/ipvs";
import type { IpvsTable } from "@lvsq/protocol";
import type { Logger } from "@lvsq/runtime";

export type ApplyOutcome = {
  ops: IpvsOp[];
  durationMs: number;
  error: IpvsadmError | Error | undefined;
  /** true for a reconcile that found the kernel different from what we last wanted. */
  drift: boolean;
};

/**
 * Turns desired tables into kernel writes with at most one `ipvsadm -R` batch in flight: while a batch runs,
 * newer desired tables only replace each other, and the next batch takes the newest (so 100k votes/s never
 * means 100k execs). It keeps the last table read from (or written to) the kernel as `observed`. After a
 * failure it re-reads the kernel so the next plan starts from the truth, unless the driver said exactly
 * which ops took (netlink: one answer per op), in which case `observed` is that, without a read.
 */
export class ApplyLoop {
  private observed: IpvsTable | undefined;
  private wanted: IpvsTable | undefined;
  private dirty = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly driver: IpvsDriver,
    private readonly owned: () => ReadonlySet<string>,
    private readonly logger: Logger,
    private readonly onOutcome: (outcome: ApplyOutcome) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Reads the kernel table (at start, and on every reconcile). */
  async read(): Promise<IpvsTable> {
    this.observed = await this.driver.read();
    return this.observed;
  }

  get lastObserved(): IpvsTable | undefined {
    return this.observed;
  }

  /** Asks for `desired` to be in the kernel; returns at once. */
  submit(desired: IpvsTable): void {
    this.wanted = desired;
    this.dirty = true;
    this.kick();
  }

  private kick(): void {
    if (this.running) return;
    // A submit that lands after drain() has finished but before this callback runs must not be lost.
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.dirty) this.kick();
    });
  }

  /**
   * Resolves when nothing is pending or in flight. A failure of the batch it waited for is not thrown here:
   * it was reported as an outcome (or to the reconcile's caller), and a waiter must never turn it into an
   * unhandled rejection that ends the director.
   */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => {});
  }

  /**
   * Re-reads the kernel and repairs any difference from the last desired table (someone ran `ipvsadm -d`
   * by hand, a failed apply left a gap). Returns the repairing ops (empty when there was no drift).
   */
  async reconcile(): Promise<IpvsOp[]> {
    // The reconcile is a batch of the loop like any other: an apply submitted while it reads the kernel waits
    // for it (else that apply and the reconcile's re-plan of the same change run at once, and the stale read
    // reports the apply as drift).
    while (this.running) await this.running;
    let ops: IpvsOp[] = [];
    // Compared with the table wanted when the kernel was read: one submitted during the read is not drift,
    // it is the next batch's job (it set `dirty`).
    const target = this.wanted;
    const job = async () => {
      const observed = await this.read();
      if (!target) return;
      ops = plan(target, observed, this.owned());
      if (ops.length > 0) await this.write(ops, true, target);
    };
    this.running = job().finally(() => {
      this.running = undefined;
      if (this.dirty) this.kick();
    });
    await this.running;
    return ops;
  }

  private async drain(): Promise<void> {
    while (this.dirty && this.wanted) {
      this.dirty = false;
      if (!this.observed && !(await this.readForApply())) return;
      const target = this.wanted;
      const ops = plan(target, this.observed!, this.owned());
      if (ops.length > 0) await this.write(ops, false, target);
    }
  }

  /**
   * The kernel table could not be re-read after a failed apply: read it before planning. If it still cannot
   * be read (ipvsadm hung past its deadline), that is this batch's failed outcome; the repair that follows
   * re-plans the wanted table from a fresh read.
   */
  private async readForApply(): Promise<boolean> {
    try {
      await this.read();
      return true;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.onOutcome({ ops: [], durationMs: 0, error: failure, drift: false });
      return false;
    }
  }

  private async write(ops: IpvsOp[], drift: boolean, target: IpvsTable): Promise<void> {
    const started = this.now();
    try {
      await this.driver.apply(ops);
      // What we wrote is now the kernel's state for the owned services; the rest is unchanged.
      this.observed = mergeOwned(this.observed!, target, this.owned());
      this.onOutcome({ ops, durationMs: this.now() - started, error: undefined, drift });
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.onOutcome({ ops, durationMs: this.now() - started, error: failure, drift });
      if (failure instanceof IpvsNetlinkError && failure.exact && this.observed) {
        this.observed = tableAfterOps(this.observed, ops, failure.notApplied);
        return;
      }
      try {
        await this.read();
      } catch (readError) {
        this.logger.error({ err: readError }, "cannot re-read the kernel table after a failed apply");
        this.observed = undefined;
      }
    }
  }
}

function mergeOwned(observed: IpvsTable, desired: IpvsTable, owned: ReadonlySet<string>): IpvsTable {
  return {
    services: [
      ...observed.services.filter((s) => !owned.has(s.key)),
      ...desired.services.filter((s) => owned.has(s.key)),
    ],
  };
}
