import type { Forwarding } from "@lvsq/protocol";
import type { CheckConfig } from "./check.js";
import type { FleetConfigParsed } from "./schema.js";

/** A problem with the config file, with the path of the field an operator has to edit. */
export type ConfigProblem = { path: (string | number)[]; message: string };

export const STANDALONE_SITE = "local";
export const STANDALONE_PROBE = "local";
export const STANDALONE_DIRECTOR = "local";

export type RealServerConfig = {
  /** The kernel's view: `ip:port` as `ipvsadm -L -n` lists it (dr/tunnel: the VIP's port). */
  address: string;
  /** Where checks connect when that differs from `address` (a dr/tunnel server written with its own port). */
  checkAddress: string | undefined;
  weight: number;
  forwarding: Forwarding;
  upperThreshold: number | undefined;
  lowerThreshold: number | undefined;
  notify: { up?: string[] | undefined; down?: string[] | undefined } | undefined;
};

type ServiceParsed = FleetConfigParsed["services"][string];

export type ServiceConfig = Pick<
  ServiceParsed,
  | "vip"
  | "fwmark"
  | "protocol"
  | "scheduler"
  | "schedFlags"
  | "forwarding"
  | "persistenceNetmask"
  | "onDown"
  | "minUpWeight"
  | "weightQuorum"
> & {
  id: string;
  family: "inet" | "inet6";
  persistenceMs: number;
  fallback: RealServerConfig[];
  realServers: RealServerConfig[];
  check: CheckConfig;
  removalLimit: { max: number | string; perMs: number } | undefined;
  probes: string[];
  notify: NonNullable<ServiceParsed["notify"]>;
};

/** A probe's `forwarding` block: it runs on a director host and checks through the kernel's forwarding. */
export type ForwardingSettings = {
  /** The director's own address toward the real servers: every pinned check leaves from it. */
  source: string;
  firstFwmark: number;
  firstPort: number;
  portsPerServer: number;
};

export type FleetConfig = {
  cluster: string;
  /** true when the file lists no probes: `lvsq run` with one local probe and director. */
  standalone: boolean;
  nats: FleetConfigParsed["nats"];
  quorum: {
    by: FleetConfigParsed["quorum"]["by"];
    down: FleetConfigParsed["quorum"]["down"];
    up: FleetConfigParsed["quorum"]["up"];
    voteTtlMs: number;
    startupGraceMs: number;
  };
  sites: string[];
  /**
   * `creds`: this agent's own NATS credentials file (overrides `nats.creds`); `forwarding`: the probe runs
   * on a director host and checks through the forwarding path (see forwarding-pins.ts).
   */
  probes: { id: string; site: string; creds?: string; forwarding?: ForwardingSettings }[];
  directors: { id: string; pair: string | undefined; creds?: string }[];
  services: Record<string, ServiceConfig>;
  director: {
    ipvsadm: string;
    /** undefined: netlink, falling back to ipvsadm (see @lvsq/ipvs openKernelDriver). */
    driver: "netlink" | "ipvsadm" | undefined;
    reconcileIntervalMs: number;
    leaseTtlMs: number;
    notify: { role: string[] | undefined; timeoutMs: number };
  };
};
