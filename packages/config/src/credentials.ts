import type { FleetConfig } from "./fleet-config.js";

/** The NATS user of `lvsq admin` (writes the admin bucket), as `lvsq nats-config` names it by default. */
export const OPERATOR_USER = "lvsq-operator";
/** The read-only NATS user of `lvsq status`, `lvsq explain`, dashboards and exporters. */
export const VIEWER_USER = "lvsq-viewer";

export type NatsCredentials = {
  /** A NATS `.creds` file (JWT + seed) or an nkey seed file, for this identity. */
  creds?: string;
  /** Which config field the creds path came from, for error messages (`probes[1].creds`, `nats.creds`). */
  credsField?: string;
  tls?: { ca?: string; cert?: string; key?: string };
};

/**
 * The credentials one identity connects with: its own `probes[].creds` / `directors[].creds` when set, else
 * `nats.creds` with `{id}` replaced by the identity (an agent id, or OPERATOR_USER / VIEWER_USER for the
 * operator commands); the TLS paths with `{id}` replaced the same way. Pure: nothing is read here.
 */
export function natsCredentials(config: FleetConfig, identity: string): NatsCredentials {
  const fill = (path: string) => path.replaceAll("{id}", identity);
  const out: NatsCredentials = {};
  const probe = config.probes.findIndex((p) => p.id === identity && p.creds !== undefined);
  const director = config.directors.findIndex((d) => d.id === identity && d.creds !== undefined);
  if (probe >= 0) {
    out.creds = fill(config.probes[probe]!.creds!);
    out.credsField = `probes[${probe}].creds`;
  } else if (director >= 0) {
    out.creds = fill(config.directors[director]!.creds!);
    out.credsField = `directors[${director}].creds`;
  } else if (config.nats.creds !== undefined) {
    out.creds = fill(config.nats.creds);
    out.credsField = "nats.creds";
  }
  const tls = config.nats.tls;
  if (tls) {
    out.tls = {
      ...(tls.ca !== undefined ? { ca: fill(tls.ca) } : {}),
      ...(tls.cert !== undefined ? { cert: fill(tls.cert) } : {}),
      ...(tls.key !== undefined ? { key: fill(tls.key) } : {}),
    };
  }
  return out;
}
