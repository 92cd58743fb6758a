import type { CheckRunner } from "@lvsq/checks";
import {
  type FleetConfig,
  type ForwardingPlan,
  type ForwardingSettings,
  planForwardingPins,
} from "@lvsq/config";
import type { IpvsDriver } from "@lvsq/ipvs";
import { every, type Logger } from "@lvsq/runtime";
import { forwardingRunner } from "./forwarding-runner.js";
import { type HostFacts, judgeConditions, type PathConditions, readHostFacts } from "./host-conditions.js";
import { type NftRunner, PinInstaller } from "./pin-installer.js";
import { nftTableName } from "./pins.js";

type RunCheck = CheckRunner["run"];

export type ForwardingPathOptions = {
  config: FleetConfig;
  probeId: string;
  driver: IpvsDriver;
  nft: NftRunner;
  logger: Logger;
  /** How often the pins are put back if something removed them (`ipvsadm -C`, `nft flush ruleset`). */
  repairIntervalMs?: number;
  /** How long the host's addresses and sysctls are trusted before they are read again. */
  conditionsTtlMs?: number;
  facts?: () => HostFacts;
  now?: () => number;
};

/**
 * A probe's forwarding path (probes[].forwarding): the pins in the kernel, kept there, and a check
 * runner that sends every check through them. Until the pins are in, and whenever they cannot be put
 * back, every check abstains with the reason.
 */
export class ForwardingPath {
  readonly #options: ForwardingPathOptions;
  readonly #installer: PinInstaller;
  readonly #now: () => number;
  #settings: ForwardingSettings;
  #plan: ForwardingPlan;
  #run: RunCheck | undefined;
  #inner: RunCheck | undefined;
  #pinsProblem: string | undefined = "the pins are not installed yet";
  #conditions: { at: number; value: PathConditions } | undefined;
  #repair: { stop(): void } | undefined;
  #busy: Promise<void> = Promise.resolve();

  constructor(options: ForwardingPathOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#installer = new PinInstaller(options.driver, options.nft, nftTableName(options.probeId));
    [this.#settings, this.#plan] = this.#planOf(options.config);
  }

  /** Installs the pins and starts keeping them; a failure is logged and leaves every check abstaining. */
  async start(): Promise<void> {
    await this.#install();
    this.#repair = every(this.#options.repairIntervalMs ?? 2000, () => this.#install());
  }

  /** The probe's check runner, sent through the path. */
  wrap(inner: RunCheck): RunCheck {
    this.#inner = inner;
    this.#rebuild();
    return (check, target, options) => this.#run!(check, target, options);
  }

  /** A new config (already validated): new pins, new blocks; the old pins leave once the new ones are in. */
  async reload(config: FleetConfig): Promise<void> {
    [this.#settings, this.#plan] = this.#planOf(config);
    this.#conditions = undefined;
    this.#rebuild();
    // A renumbered pin sends its old block's marks to another server until nft has the new rules:
    // checks started meanwhile abstain (one in flight keeps the server its first packet went to).
    this.#pinsProblem = "the pins are being replaced (config reload)";
    await this.#install();
  }

  /** Stops repairing and takes the rules and the pins out of the kernel. */
  async stop(): Promise<void> {
    this.#repair?.stop();
    this.#pinsProblem = "the probe is stopping";
    await this.#serial(async () => {
      try {
        await this.#installer.remove();
        this.#options.logger.info({ probe: this.#options.probeId }, "forwarding pins removed");
      } catch (error) {
        this.#options.logger.error(
          { probe: this.#options.probeId, err: message(error) },
          "forwarding pins not removed",
        );
      }
    });
  }

  #planOf(config: FleetConfig): [ForwardingSettings, ForwardingPlan] {
    const me = config.probes.find((p) => p.id === this.#options.probeId);
    if (me?.forwarding === undefined)
      throw new Error(`probe "${this.#options.probeId}" has no forwarding block`);
    return [me.forwarding, planForwardingPins(config, me.id, me.forwarding)];
  }

  #rebuild(): void {
    if (this.#inner === undefined) return;
    this.#run = forwardingRunner(this.#inner, {
      plan: this.#plan,
      source: this.#settings.source,
      conditions: (fresh) => this.#currentConditions(fresh),
      pinsProblem: () => this.#pinsProblem,
    });
  }

  #currentConditions(fresh = false): PathConditions {
    const now = this.#now();
    const ttl = this.#options.conditionsTtlMs ?? 5000;
    if (fresh || this.#conditions === undefined || now - this.#conditions.at >= ttl) {
      const vips = new Set(this.#plan.pins.map((pin) => pin.vip));
      const value = judgeConditions(this.#settings.source, vips, (this.#options.facts ?? readHostFacts)());
      const before = this.#conditions?.value;
      this.#conditions = { at: now, value };
      if (describe(before) !== describe(value)) this.#logConditions(value);
    }
    return this.#conditions.value;
  }

  #logConditions(value: PathConditions): void {
    const fields = { probe: this.#options.probeId };
    if (value.blocked !== undefined)
      this.#options.logger.error({ ...fields, reason: value.blocked }, "checks through the path cannot run");
    for (const [vip, reason] of value.byVip)
      this.#options.logger.error(
        { ...fields, vip, reason },
        "checks through this VIP cannot get their replies",
      );
    if (value.blocked === undefined && value.byVip.size === 0)
      this.#options.logger.info(fields, "checks through the path can run");
  }

  /** Installs (again): logged as installed after a start, a reload or a failure, as repaired otherwise. */
  #install(): Promise<void> {
    const settings = this.#settings;
    const pins = this.#plan.pins;
    return this.#serial(async () => {
      const fields = { probe: this.#options.probeId, pins: pins.length };
      try {
        const writes = await this.#installer.install(settings.source, pins);
        if (this.#pinsProblem !== undefined) {
          this.#options.logger.info({ ...fields, writes }, "forwarding pins installed");
        } else if (writes > 0) {
          this.#options.logger.warn(
            { ...fields, writes },
            "forwarding pins were changed outside lvsq: repaired",
          );
        }
        this.#pinsProblem = undefined;
      } catch (error) {
        const reason = `forwarding pins not installed: ${message(error)}`;
        if (this.#pinsProblem !== reason)
          this.#options.logger.error({ ...fields, reason }, "forwarding pins not installed; checks abstain");
        this.#pinsProblem = reason;
      }
    });
  }

  /** Installs, repairs and the removal never overlap. */
  #serial(work: () => Promise<void>): Promise<void> {
    const next = this.#busy.then(work);
    this.#busy = next;
    return next;
  }
}

function describe(value: PathConditions | undefined): string {
  return value === undefined ? "" : JSON.stringify([value.blocked, [...value.byVip]]);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
