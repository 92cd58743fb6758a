import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../load.js";
import { renderImport } from "./common.js";
import { importKeepalived } from "./keepalived.js";
import { importLdirectord } from "./ldirectord.js";

const fixtures = new URL("../../../../test/fixtures/import/", import.meta.url).pathname;

/** The import as the CLI prints it, read back by the config loader. */
function roundTrip(result: ReturnType<typeof importKeepalived>) {
  const yaml = renderImport(result, "test");
  return { yaml, config: parseConfig(yaml, "imported.yaml", { env: {} }) };
}

describe("lvsq import keepalived (doc/samples-style fixtures)", () => {
  const result = importKeepalived(join(fixtures, "keepalived/keepalived.conf"));
  const { yaml, config } = roundTrip(result);

  it("reads the included files and prints a config that validates", () => {
    expect(result.files.map((f) => f.slice(fixtures.length))).toEqual([
      "keepalived/keepalived.conf",
      "keepalived/conf.d/10-web.conf",
      "keepalived/conf.d/20-mail.conf",
      "keepalived/conf.d/30-dns.conf",
      "keepalived/conf.d/40-group.conf",
    ]);
    expect(config.cluster).toBe("LVS_EDGE");
    expect(Object.keys(config.services)).toEqual([
      "tcp-192-0-2-10-80",
      "fwmark-7",
      "udp-192-0-2-53-53",
      "udp-192-0-2-54-514",
      "tcp-192-0-2-20-443",
      "tcp-192-0-2-21-443",
      "fwmark-9",
      "tcp-192-0-2-30-8080",
    ]);
  });

  it("maps the web pool: HTTP_GET, sorry_server, quorum/hysteresis, hooks, persistence, timing", () => {
    const web = config.services["tcp-192-0-2-10-80"]!;
    expect(web).toMatchObject({
      vip: "192.0.2.10:80",
      scheduler: "wrr",
      forwarding: "dr",
      persistenceMs: 300_000,
      persistenceNetmask: "255.255.255.0",
      weightQuorum: { quorum: 3, hysteresis: 1 },
      notify: {
        quorumUp: ["/usr/local/sbin/lvs-quorum", "up", "web"],
        quorumDown: ["/usr/local/sbin/lvs-quorum-down"],
      },
    });
    expect(web.fallback.map((f) => f.address)).toEqual(["198.51.100.250:80"]);
    expect(web.realServers.map((rs) => [rs.address, rs.weight])).toEqual([
      ["198.51.100.11:80", 2],
      ["198.51.100.12:80", 2],
    ]);
    expect(web.realServers[0]!.notify).toEqual({ down: ["/usr/local/sbin/page-oncall", "web-11"] });
    expect(web.check).toMatchObject({
      type: "http",
      path: "/healthz",
      host: "www.example.com",
      expectStatus: [
        [200, 200],
        [204, 204],
      ],
      expectBody: "status: ?ok",
      intervalMs: 6000,
      timeoutMs: 2000,
      rise: 1,
      fall: 3,
    });
  });

  it("maps fwmark with port-less real servers, inhibit_on_failure, DNS_CHECK, UDP_CHECK, groups and PING_CHECK", () => {
    expect(config.services["fwmark-7"]).toMatchObject({
      fwmark: 7,
      onDown: "quiesce",
      check: { type: "smtp", port: 25, heloName: "probe.example.com" },
    });
    expect(config.services["fwmark-7"]!.realServers.map((rs) => rs.address)).toEqual([
      "198.51.100.31:0",
      "198.51.100.32:0",
    ]);
    expect(config.services["udp-192-0-2-53-53"]).toMatchObject({
      protocol: "udp",
      forwarding: "nat",
      check: { type: "dns", query: "www.example.com", queryType: "A" },
    });
    expect(config.services["udp-192-0-2-54-514"]).toMatchObject({
      scheduler: "sh",
      schedFlags: ["sh-port"],
      check: { type: "udp", sendHex: "3c31343e6c7673", requireReply: false },
    });
    for (const id of ["tcp-192-0-2-20-443", "tcp-192-0-2-21-443", "fwmark-9"]) {
      expect(config.services[id]).toMatchObject({
        forwarding: "tunnel",
        check: { type: "https", tlsVerify: false, path: "/status" },
      });
    }
    expect(config.services["tcp-192-0-2-30-8080"]!.check).toMatchObject({
      type: "icmp",
      fall: 4,
      timeoutMs: 2500,
    });
  });

  it("leaves a comment for each thing without an equivalent", () => {
    for (const fragment of [
      "keepalived.conf:13: vrrp_instance: VRRP and routing are not lvsq's job",
      "conf.d/10-web.conf:26: 2 url blocks",
      "digest (an MD5 of the body) has no equivalent",
      "conf.d/10-web.conf:15: alpha:",
      "host blocks (other addresses to check)",
      "ops (one-packet scheduling)",
      "lvsq has no groups",
      "MISC_CHECK on 203.0.113.51:443: lvsq runs one check per service",
      "FILE_CHECK has no equivalent check",
      "timeout 5s is not shorter than delay_loop 5s",
    ]) {
      expect(yaml).toContain(fragment);
    }
  });

  it("refuses unbalanced braces and includes that match nothing, with file and line", () => {
    const dir = mkdtempSync(join(tmpdir(), "lvsq-import-"));
    writeFileSync(join(dir, "open.conf"), "virtual_server 192.0.2.1 80 {\n  lb_algo rr\n");
    expect(() => importKeepalived(join(dir, "open.conf"))).toThrow(/open\.conf:1: "\{" is never closed/);
    writeFileSync(join(dir, "close.conf"), "global_defs {\n}\n}\n");
    expect(() => importKeepalived(join(dir, "close.conf"))).toThrow(/close\.conf:3: "\}" without a matching/);
    writeFileSync(join(dir, "inc.conf"), "include /nonexistent-lvsq/*.conf\n");
    expect(() => importKeepalived(join(dir, "inc.conf"))).toThrow(/inc\.conf:1: include .* matches no file/);
  });
});

describe("lvsq import ldirectord (ldirectord.cf-style fixture)", () => {
  const result = importLdirectord(join(fixtures, "ldirectord/ldirectord.cf"));
  const { yaml, config } = roundTrip(result);

  it("prints a config that validates, with global defaults applied to every virtual", () => {
    expect(Object.keys(config.services)).toEqual([
      "tcp-192-0-2-10-80",
      "udp-192-0-2-53-53",
      "fwmark-7",
      "tcp-192-0-2-30-5432",
    ]);
    for (const service of Object.values(config.services))
      expect(service.check).toMatchObject({ intervalMs: 5000, fall: 2, rise: 1 });
  });

  it("maps negotiate http, ranges of real servers, fallback, persistence and quiescent", () => {
    const web = config.services["tcp-192-0-2-10-80"]!;
    expect(web).toMatchObject({
      scheduler: "wrr",
      forwarding: "dr",
      onDown: "remove",
      persistenceMs: 600_000,
    });
    expect(web.check).toMatchObject({
      type: "http",
      path: "/healthz",
      expectBody: "status: ok",
      host: "www.example.com",
      timeoutMs: 4000,
    });
    expect(web.realServers.map((rs) => `${rs.address}@${rs.weight}`)).toEqual([
      "198.51.100.11:80@2",
      "198.51.100.12:80@2",
      "198.51.100.13:80@1",
      "198.51.100.14:80@1",
    ]);
    expect(web.fallback).toEqual([expect.objectContaining({ address: "127.0.0.1:80", forwarding: "nat" })]);
    expect(config.services["udp-192-0-2-53-53"]).toMatchObject({
      protocol: "udp",
      onDown: "quiesce",
      check: { type: "dns", query: "www.example.com", expectAnswer: "192.0.2.10", timeoutMs: 3000 },
    });
  });

  it("maps fwmark connect checks on checkport, external checks and thresholds", () => {
    expect(config.services["fwmark-7"]).toMatchObject({ check: { type: "tcp", port: 25 } });
    expect(config.services["fwmark-7"]!.realServers.map((rs) => rs.address)).toEqual([
      "198.51.100.31:0",
      "198.51.100.32:0",
    ]);
    const pg = config.services["tcp-192-0-2-30-5432"]!;
    expect(pg.check).toMatchObject({
      type: "exec",
      command: ["sh", "-c", 'exec /usr/local/bin/check-pg 192.0.2.30 5432 "$LVSQ_RS_HOST" "$LVSQ_RS_PORT"'],
    });
    expect(pg.realServers[0]).toMatchObject({ lowerThreshold: 10, upperThreshold: 500 });
    expect(yaml).toContain("ldirectord.cf:8: autoreload: no equivalent");
  });
});
