import { describe, expect, it } from "vitest";
import { ConfigError } from "./errors.js";
import { planForwardingPins } from "./forwarding-pins.js";
import { parseConfig } from "./load.js";

function fleet(forwarding: string, services: string): string {
  return `
cluster: t
sites: [a, path]
probes:
  - { id: pa, site: a }
  - id: lvs-a-path
    site: path
    forwarding: ${forwarding}
services:
${services}
`;
}

const WEB = `
  web:
    vip: 192.0.2.10:80
    check: { type: http, interval: 2s }
    realServers: [{ address: 198.51.100.11 }, { address: 198.51.100.12 }, { address: "198.51.100.13:8080", forwarding: nat }]
  api:
    vip: 192.0.2.10:443
    check: { type: tcp, interval: 2s }
    realServers: [{ address: 198.51.100.11 }]
  dns:
    vip: 192.0.2.53:53
    protocol: udp
    check: { type: dns, query: example.org, interval: 2s }
    realServers: [{ address: 198.51.100.21 }]
  marked:
    fwmark: 7
    check: { type: tcp, port: 80, interval: 2s }
    realServers: [{ address: 198.51.100.31 }]
`;

function issuesOf(text: string): string[] {
  try {
    parseConfig(text, "fleet.yaml", { env: {} });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}: ${i.message}`);
    throw error;
  }
  return [];
}

describe("planForwardingPins", () => {
  const config = parseConfig(fleet("{ source: 198.51.100.1 }", WEB), "fleet.yaml", { env: {} });
  const me = config.probes.find((p) => p.id === "lvs-a-path")!;

  it("reads the block with its defaults", () => {
    expect(me.forwarding).toEqual({
      source: "198.51.100.1",
      firstFwmark: 0x4c510000,
      firstPort: 61000,
      portsPerServer: 64,
    });
  });

  it("pins each dr server of a tcp VIP to its own fwmark and source-port block, per VIP and port", () => {
    const { pins } = planForwardingPins(config, me.id, me.forwarding!);
    expect(
      pins.map((p) => [p.service, p.rs, p.vip, p.port, p.fwmark - 0x4c510000, p.firstPort, p.lastPort]),
    ).toEqual([
      ["api", "198.51.100.11:443", "192.0.2.10", 443, 0, 61000, 61063],
      ["web", "198.51.100.11:80", "192.0.2.10", 80, 1, 61000, 61063],
      ["web", "198.51.100.12:80", "192.0.2.10", 80, 2, 61064, 61127],
    ]);
  });

  it("says why a server is not pinned: nat, another protocol, a check that cannot bind, a fwmark service", () => {
    const { unpinned } = planForwardingPins(config, me.id, me.forwarding!);
    expect(unpinned.map((u) => [u.service, u.checkAddress, u.reason])).toEqual([
      ["dns", "198.51.100.21:53", expect.stringContaining("udp service")],
      ["marked", "198.51.100.31:0", expect.stringContaining("fwmark service has no VIP")],
      ["web", "198.51.100.13:8080", expect.stringContaining("nat real server")],
    ]);
  });

  it("a check's own port is where the pinned connection goes", () => {
    const text = fleet(
      "{ source: 198.51.100.1 }",
      `
  web:
    vip: 192.0.2.10:80
    check: { type: tcp, port: 8081, interval: 2s }
    realServers: [{ address: 198.51.100.11 }]
`,
    );
    const parsed = parseConfig(text, "fleet.yaml", { env: {} });
    const { pins } = planForwardingPins(parsed, "lvs-a-path", parsed.probes[1]!.forwarding!);
    expect(pins[0]).toMatchObject({ vip: "192.0.2.10", port: 8081, rs: "198.51.100.11:80" });
  });
});

describe("forwarding: the config refuses what the probe could not install", () => {
  it("a source that is not an IPv4 address", () => {
    expect(issuesOf(fleet("{ source: lvs-a }", WEB))).toEqual([
      expect.stringMatching(/^probes\[1\]\.forwarding\.source: expected this director's own IPv4 address/),
    ]);
  });

  it("a source that is a VIP", () => {
    expect(issuesOf(fleet("{ source: 192.0.2.53 }", WEB))).toEqual([
      expect.stringMatching(/^probes\[1\]\.forwarding\.source: 192\.0\.2\.53 is service "dns"'s VIP/),
    ]);
  });

  it("fwmarks that take a service's", () => {
    expect(issuesOf(fleet("{ source: 198.51.100.1, firstFwmark: 5 }", WEB))).toEqual([
      "probes[1].forwarding.firstFwmark: the pins' fwmarks 5..7 include service \"marked\"'s fwmark 7",
    ]);
  });

  it("source-port blocks past 65535", () => {
    expect(issuesOf(fleet("{ source: 198.51.100.1, firstPort: 65500, portsPerServer: 31 }", WEB))).toEqual([
      expect.stringMatching(
        /^probes\[1\]\.forwarding\.portsPerServer: 2 real servers behind 192\.0\.2\.10:80 need 2 × 31 source ports from 65500, past 65535/,
      ),
    ]);
  });

  it("ports that come round within TIME_WAIT", () => {
    expect(issuesOf(fleet("{ source: 198.51.100.1, portsPerServer: 20 }", WEB))).toEqual([
      'probes[1].forwarding.portsPerServer: service "api" checks every 2s, so 20 ports per server come round within TIME_WAIT (60s): expected at least 31',
      'probes[1].forwarding.portsPerServer: service "web" checks every 2s, so 20 ports per server come round within TIME_WAIT (60s): expected at least 31',
    ]);
  });
});
