import type { Bus } from "@lvsq/bus";
import type { FleetConfig } from "@lvsq/config";
import type { IpvsDriver } from "@lvsq/ipvs";
import type { IpvsTable } from "@lvsq/protocol";
import type { DirectorMetrics, Logger } from "@lvsq/runtime";

/** What a director agent is started with (`DirectorAgent.start`). */
export type DirectorOptions = {
  config: FleetConfig;
  directorId: string;
  bus: Bus;
  driver: IpvsDriver;
  logger: Logger;
  /** `standalone` in `lvsq run`; otherwise leader/follower/isolated from the bus state. */
  standalone?: boolean;
  now?: () => number;
  tickMs?: number;
  heartbeatMs?: number;
  /** First wait before reading the kernel table again when the read at start fails (default 1 s, doubling to 10 s). */
  startReadRetryMs?: number;
  ipvsadm?: string;
  /** Pair lease round period (default leaseTtl/6); "manual" = the caller drives `pair.poll()` (simulations). */
  pairPollMs?: number | "manual";
  /** Admin overrides full re-read period (default 5 s); "manual" = the caller runs `refreshAdmin()`. */
  adminRefreshMs?: number | "manual";
  /** Monotonic clock for lease deadlines and the overrides' age. Default: `now` if given, else performance.now. */
  clock?: () => number;
  /** This process's lease incarnation (default a random UUID). */
  incarnation?: string;
  /** Observer of every table handed to the apply loop, with the epoch it belongs to (tests, bench). */
  onSubmit?: (table: IpvsTable, epoch: number) => void;
  /** Prometheus metrics (`--metrics`). */
  metrics?: DirectorMetrics;
  /** `--dry-run`: `driver` writes nothing to the kernel (createDryRunDriver); the log says so. */
  dryRun?: boolean;
};
