import type { RealServerEntry, VirtualServiceEntry } from "@lvsq/protocol";

/** What identifies a virtual service on the ipvsadm command line (`-t addr`, `-f 7 -6`, ...). */
export type ServiceRef = Pick<VirtualServiceEntry, "key" | "protocol" | "address" | "fwmark" | "family">;

/** A virtual service without its real servers: what `-A` and `-E` set. */
export type ServiceSettings = Omit<VirtualServiceEntry, "realServers">;

/**
 * One kernel write, in the order `plan` emits them. Each maps to one ipvsadm command
 * (`-A -E -D -a -e -d`) and one line of `ipvsadm -R` input.
 */
export type IpvsOp =
  | { type: "add-service"; service: ServiceSettings }
  | { type: "edit-service"; service: ServiceSettings }
  | { type: "delete-service"; service: ServiceRef }
  | { type: "add-server"; service: ServiceRef; server: RealServerEntry }
  | { type: "edit-server"; service: ServiceRef; server: RealServerEntry }
  | { type: "delete-server"; service: ServiceRef; address: string };

export function serviceRef(service: ServiceRef): ServiceRef {
  const ref: ServiceRef = { key: service.key, protocol: service.protocol, family: service.family };
  if (service.address !== undefined) ref.address = service.address;
  if (service.fwmark !== undefined) ref.fwmark = service.fwmark;
  return ref;
}

export function serviceSettings(service: VirtualServiceEntry): ServiceSettings {
  const { realServers: _servers, ...settings } = service;
  return settings;
}

/** The address of the real server an op touches, or undefined for service ops. */
export function opServerAddress(op: IpvsOp): string | undefined {
  switch (op.type) {
    case "add-server":
    case "edit-server":
      return op.server.address;
    case "delete-server":
      return op.address;
    default:
      return undefined;
  }
}
