import {
  EndpointText,
  isIPv4,
  Forwarding,
  KERNEL_SCHEDULERS,
  Protocol,
  RealServerAddressText,
  Token,
} from "@lvsq/protocol";
import { z } from "zod";
import { CheckInput } from "./check.js";
import { Duration } from "./duration.js";
import { Threshold } from "./threshold.js";

export const IpvsDriverName = z.enum(["netlink", "ipvsadm"]);

/** Schedulers ipvsadm accepts (`-s`); the kernel needs the matching ip_vs_<name> module. */
export const Scheduler = z.enum(KERNEL_SCHEDULERS);
export const SchedFlag = z.enum(["sh-fallback", "sh-port", "mh-fallback", "mh-port"]);

const Weight = z.number().int().min(0).max(65535);
/** A hook: an argv list, run directly (no shell unless you call one), with the transition appended. */
const HookCommand = z.array(z.string().min(1)).min(1, { message: "expected a command: [program, args...]" });
/** Hooks of one real server (or, on a service, of each of its real servers): keepalived's notify_up/down. */
const RealServerNotify = z.strictObject({ up: HookCommand.optional(), down: HookCommand.optional() });

export const RealServerInput = z.strictObject({
  /** `ip:port`; or no port: a vip service's port, or (fwmark services) the packet's own, port 0. */
  address: RealServerAddressText,
  weight: Weight.default(1),
  /** Overrides the service's forwarding for this real server. */
  forwarding: Forwarding.optional(),
  upperThreshold: z.number().int().min(0).optional(),
  lowerThreshold: z.number().int().min(0).optional(),
  /** Overrides the service's `notify.up` / `notify.down` for this real server. */
  notify: RealServerNotify.optional(),
});

export const ServiceInput = z.strictObject({
  vip: EndpointText.optional(),
  fwmark: z.number().int().min(1).max(4294967295).optional(),
  /** Address family of a fwmark service (a vip's family is implied). */
  family: z.enum(["inet", "inet6"]).optional(),
  protocol: Protocol.default("tcp"),
  scheduler: Scheduler.default("wlc"),
  schedFlags: z.array(SchedFlag).optional(),
  forwarding: Forwarding.default("dr"),
  persistence: Duration.default(0),
  persistenceNetmask: z.string().optional(),
  onDown: z.enum(["remove", "quiesce"]).default("remove"),
  fallback: z.array(RealServerInput).default([]),
  check: CheckInput.optional(),
  realServers: z.array(RealServerInput).min(1, { message: "expected at least one real server" }),
  removalLimit: z
    .strictObject({
      max: z.union(
        [
          z.number().int().min(1, { message: 'expected a count N >= 1 or a share like "50%"' }),
          z.string().regex(/^(100|[1-9]\d?)%$/, { message: 'expected a count N >= 1 or a share like "50%"' }),
        ],
        {
          error: 'expected a count N >= 1 or a share like "50%"',
        },
      ),
      per: Duration,
    })
    .optional(),
  /** keepalived's quorum/hysteresis: below `weight - hysteresis` of healthy weight the fallback goes in. */
  minUpWeight: z
    .strictObject({ weight: z.number().int().min(1), hysteresis: z.number().int().min(0).default(0) })
    .optional(),
  /**
   * keepalived's quorum/hysteresis semantics: below `quorum - hysteresis` of healthy weight (or at 0) the
   * quorum is lost, the fallback servers replace the real servers and notify.quorumDown runs; at
   * `quorum + hysteresis` it is gained back. Not with minUpWeight (docs/decisions.md).
   */
  weightQuorum: z
    .strictObject({ quorum: z.number().int().min(1), hysteresis: z.number().int().min(0).default(0) })
    .optional(),
  /** Probes that check this service; default all. */
  probes: z.array(Token).min(1).optional(),
  /** Commands run on transitions (docs/operations.md#notify-hooks). */
  notify: RealServerNotify.extend({
    fallbackOn: HookCommand.optional(),
    fallbackOff: HookCommand.optional(),
    quorumUp: HookCommand.optional(),
    quorumDown: HookCommand.optional(),
  })
    .strict()
    .optional(),
});

/**
 * A file path for NATS credentials or TLS; `{id}` is the only placeholder (the agent's id, or the user of
 * `lvsq status` / `lvsq admin`), so one line can give every agent its own file.
 */
const CredentialPath = z
  .string()
  .min(1, { message: "expected a file path" })
  .refine((path) => path.replace(/\{id\}/g, "").match(/[{}]/) === null, {
    message: "expected a file path whose only placeholder is {id}",
  });

/** Defaults: fwmarks 0x4c510000 and up ("LQ"), source ports from 61000 (above Linux's ephemeral range). */
const ForwardingInput = z.strictObject({
  source: z
    .string()
    .refine(isIPv4, { message: "expected this director's own IPv4 address toward the real servers" }),
  firstFwmark: z.number().int().min(1).max(4294967295).default(0x4c510000),
  firstPort: z.number().int().min(1024).max(65535).default(61000),
  portsPerServer: z.number().int().min(1).max(4096).default(64),
});

export const FleetConfigInput = z.strictObject({
  cluster: Token,
  nats: z
    .strictObject({
      servers: z
        .array(
          z
            .string()
            .regex(/^(nats|tls|ws|wss):\/\/\S+$/, { message: "expected a URL like nats://127.0.0.1:4222" }),
        )
        .min(1),
      /** Every agent's credentials file; `{id}` stands for the agent's id (probes[].creds etc. override). */
      creds: CredentialPath.optional(),
      /** KV bucket replicas; default 3 on a cluster of 3 or more nodes, else 1 (see the bus). */
      replicas: z.number().int().min(1).max(5).optional(),
      tls: z
        .strictObject({
          ca: CredentialPath.optional(),
          cert: CredentialPath.optional(),
          key: CredentialPath.optional(),
        })
        .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), {
          message: "expected cert and key together (a client certificate needs its key), or neither",
        })
        .optional(),
    })
    .default({ servers: ["nats://127.0.0.1:4222"] }),
  defaults: z.strictObject({ check: CheckInput.optional() }).default({}),
  quorum: z
    .strictObject({
      by: z.enum(["site", "probe"]).default("site"),
      down: Threshold.default("majority"),
      up: Threshold.default("majority"),
      voteTtl: Duration.default(6000),
      startupGrace: Duration.default(10_000),
    })
    .default({ by: "site", down: "majority", up: "majority", voteTtl: 6000, startupGrace: 10_000 }),
  /** Omit sites, probes and directors for standalone mode (one local probe, one local director). */
  sites: z.array(Token).min(1).optional(),
  probes: z
    .array(
      z.strictObject({
        id: Token,
        site: Token,
        creds: CredentialPath.optional(),
        /** This probe runs on a director host and checks through the forwarding path (docs/checks.md). */
        forwarding: ForwardingInput.optional(),
      }),
    )
    .min(1)
    .optional(),
  directors: z
    .array(z.strictObject({ id: Token, pair: Token.optional(), creds: CredentialPath.optional() }))
    .min(1)
    .optional(),
  services: z
    .record(Token, ServiceInput)
    .refine((services) => Object.keys(services).length > 0, { message: "expected at least one service" }),
  director: z
    .strictObject({
      ipvsadm: z.string().min(1).default("ipvsadm"),
      /**
       * How the director talks to the kernel: `netlink` (one generic-netlink socket) or `ipvsadm` (one
       * process per apply). Unset: netlink, falling back to ipvsadm where netlink cannot open.
       */
      driver: IpvsDriverName.optional(),
      reconcileInterval: Duration.default(10_000),
      /** Leader lease time of a director pair. */
      leaseTtl: Duration.default(3000),
      /** The director's own hooks (its role) and the deadline of every hook run. */
      notify: z
        .strictObject({ role: HookCommand.optional(), timeout: Duration.default(10_000) })
        .default({ timeout: 10_000 }),
    })
    .default({ ipvsadm: "ipvsadm", reconcileInterval: 10_000, leaseTtl: 3000, notify: { timeout: 10_000 } }),
});
export type FleetConfigInput = z.input<typeof FleetConfigInput>;
export type FleetConfigParsed = z.output<typeof FleetConfigInput>;
