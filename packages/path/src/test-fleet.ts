// A fleet for this package's tests: one director-side probe checking two DR servers of one VIP.
import { type FleetConfig, parseConfig } from "@lvsq/config";

export function testFleet(extraServer = false): FleetConfig {
  return parseConfig(
    `
cluster: t
sites: [a, path]
probes:
  - { id: pa, site: a }
  - { id: lvs-a-path, site: path, forwarding: { source: 198.51.100.1, firstFwmark: 1001 } }
services:
  web:
    vip: 192.0.2.10:80
    check: { type: http, interval: 2s }
    realServers:
      - { address: 198.51.100.11 }
${extraServer ? "      - { address: 198.51.100.10 }\n" : ""}      - { address: 198.51.100.12 }
  marked:
    fwmark: 7
    check: { type: tcp, port: 80, interval: 2s }
    realServers: [{ address: 198.51.100.31 }]
`,
    "fleet.yaml",
    { env: {} },
  );
}
