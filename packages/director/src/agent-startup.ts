import type { FleetConfig } from "@lvsq/config";
import type { AdminCommand } from "@lvsq/engine";
import type { DirectorRole } from "@lvsq/protocol";
import type { DirectorOptions } from "./agent-options.js";
import { AdminWatch } from "./admin-watch.js";
import type { DirectorCounts } from "./heartbeat.js";
import { KernelTable } from "./kernel-table.js";
import { Notifier } from "./notify.js";
import { PairCoordinator } from "./pair-coordinator.js";
import { DrainRounds, PairDrainReports } from "./pair-drains.js";
import type { PairHost } from "./pair-host.js";
import { pairOf } from "./pair-records.js";
import type { AnyDirectorEvent } from "./publish.js";
import { RoleLog } from "./role-log.js";

/** The director agent's collaborators, each built once when the agent is made. */
export type DirectorParts = {
  kernel: KernelTable;
  /** Set when the config puts this director in a pair with a partner (see pair-coordinator.ts). */
  pairing: PairCoordinator | undefined;
  /** A paired director's partners' drain reports (their heartbeats); the leader ends drains from them. */
  drainReports: PairDrainReports | undefined;
  drains: DrainRounds;
  /** Operators' overrides; undefined in standalone mode (`lvsq run` reads its admin file instead). */
  adminWatch: AdminWatch | undefined;
  /** Runs the config's notify hooks off the decision path (notify.ts). */
  notifier: Notifier;
  roleLog: RoleLog;
};

/** What the parts call back into: the agent's current config and role, and its decide/apply path. */
export type DirectorHooks = {
  config(): FleetConfig;
  owned(): ReadonlySet<string>;
  role(): DirectorRole;
  counts: DirectorCounts;
  now: () => number;
  /** The wall clock as it is (it may step), for timestamps other hosts read (a lease record's renewedAt). */
  wallNow: () => number;
  clock: () => number;
  emit(event: AnyDirectorEvent): void;
  publishHeartbeat(): void;
  admin(command: AdminCommand): void;
  /** The admin overrides became complete and current again. */
  overridesCurrent(): void;
  pairHost(): PairHost;
};

/**
 * Wires a director: its kernel table, and, unless standalone, its pair side (when the config pairs it),
 * the admin overrides' watch, drain rounds, notify hooks and the role log.
 */
export function createDirectorParts(options: DirectorOptions, hooks: DirectorHooks): DirectorParts {
  const config = hooks.config();
  const kernel = new KernelTable({
    driver: options.driver,
    logger: options.logger,
    owned: hooks.owned,
    counts: hooks.counts,
    emit: (event) => hooks.emit(event),
    onTableChanged: () => hooks.publishHeartbeat(),
    now: hooks.now,
    ipvsadm: options.ipvsadm,
    metrics: options.metrics,
    onSubmit: options.onSubmit,
    dryRun: options.dryRun,
  });
  let pairing: PairCoordinator | undefined;
  let drainReports: PairDrainReports | undefined;
  const pair = options.standalone ? undefined : pairOf(config, options.directorId);
  if (pair !== undefined) {
    pairing = new PairCoordinator({
      bus: options.bus,
      directorId: options.directorId,
      pair,
      cluster: config.cluster,
      ttlMs: config.director.leaseTtlMs,
      logger: options.logger,
      host: hooks.pairHost(),
      now: hooks.wallNow,
      clock: hooks.clock,
      ...(options.incarnation !== undefined ? { incarnation: options.incarnation } : {}),
      ...(options.pairPollMs !== undefined ? { pollMs: options.pairPollMs } : {}),
    });
    const partners = config.directors
      .filter((d) => d.pair === pair && d.id !== options.directorId)
      .map((d) => d.id);
    drainReports = new PairDrainReports(options.bus, config.cluster, partners, hooks.now);
  }
  const drains = new DrainRounds({
    driver: options.driver,
    logger: options.logger,
    reports: drainReports,
    staleMs: Math.max(3 * (options.heartbeatMs ?? 2000), 5000),
  });
  const adminWatch = options.standalone
    ? undefined
    : new AdminWatch({
        bus: options.bus,
        cluster: config.cluster,
        apply: (command) => hooks.admin(command),
        logger: options.logger,
        clock: hooks.clock,
        ...(options.adminRefreshMs !== undefined ? { refreshMs: options.adminRefreshMs } : {}),
        onCurrent: () => hooks.overridesCurrent(),
        paired: pairing !== undefined,
      });
  const notifier = new Notifier({
    config: hooks.config,
    directorId: options.directorId,
    logger: options.logger,
    now: hooks.now,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  const pairName = () => hooks.config().directors.find((d) => d.id === options.directorId)?.pair;
  const roleLog = new RoleLog(options.logger, hooks.role, pairing, (role, previous) =>
    notifier.role(role, previous, pairName()),
  );
  return { kernel, pairing, drainReports, drains, adminWatch, notifier, roleLog };
}
