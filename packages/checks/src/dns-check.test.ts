import { afterEach, describe, expect, it } from "vitest";
import { dnsServer } from "./protocol-servers.js";
import { createCheckRunner } from "./runner.js";
import { TestServers, typedCheck } from "./test-servers.js";
import { udpServer } from "./protocol-servers.js";

const servers = new TestServers();
const runner = createCheckRunner();
afterEach(() => servers.closeAll());

const target = (address: string) => ({ address, service: "dns" });
const zone = {
  "www.lvsq.test A": [{ type: "A" as const, name: "www.lvsq.test", ttl: 60, data: "192.0.2.10" }],
  "lvsq.test MX": [
    { type: "MX" as const, name: "lvsq.test", ttl: 60, data: { preference: 10, exchange: "mx.lvsq.test" } },
  ],
  "lvsq.test TXT": [{ type: "TXT" as const, name: "lvsq.test", ttl: 60, data: ["v=spf1 ", "-all"] }],
};

describe("dns check against a real DNS server on 127.0.0.1", () => {
  it("is up on NOERROR over UDP, asks with RD set, and over TCP when told", async () => {
    const dns = await dnsServer(servers, zone);
    expect(await runner.run(typedCheck("dns"), target(dns.address))).toMatchObject({
      verdict: "up",
      reason: "NOERROR, 1 answer(s)",
    });
    const tcp = await runner.run(
      typedCheck("dns", { transport: "tcp", recurse: false }),
      target(dns.address),
    );
    expect(tcp).toMatchObject({ verdict: "up", reason: "NOERROR, 1 answer(s)" });
    expect(dns.queries).toEqual([
      { name: "www.lvsq.test", type: "A", transport: "udp", rd: true },
      { name: "www.lvsq.test", type: "A", transport: "tcp", rd: false },
    ]);
  });

  it("matches expectAnswer against the answers as dig prints them", async () => {
    const dns = await dnsServer(servers, zone);
    const a = await runner.run(
      typedCheck("dns", { expectAnswer: "^192\\.0\\.2\\.10$" }),
      target(dns.address),
    );
    expect(a).toMatchObject({ verdict: "up", reason: "NOERROR, answer matched", detail: "192.0.2.10" });
    const mx = typedCheck("dns", {
      query: "lvsq.test",
      queryType: "MX",
      expectAnswer: "^10 mx\\.lvsq\\.test$",
    });
    expect(await runner.run(mx, target(dns.address))).toMatchObject({ verdict: "up" });
    const txt = typedCheck("dns", { query: "lvsq.test", queryType: "TXT", expectAnswer: "spf1 -all" });
    expect(await runner.run(txt, target(dns.address))).toMatchObject({ verdict: "up" });
    const wrong = await runner.run(
      typedCheck("dns", { expectAnswer: "192\\.0\\.2\\.99" }),
      target(dns.address),
    );
    expect(wrong).toMatchObject({
      verdict: "down",
      reason: "no answer matched /192\\.0\\.2\\.99/ (1 answer(s))",
    });
  });

  it("is down on an rcode outside expectRcode, and up when NXDOMAIN is what was asked for", async () => {
    const dns = await dnsServer(servers, zone);
    const missing = typedCheck("dns", { query: "nope.lvsq.test" });
    expect(await runner.run(missing, target(dns.address))).toMatchObject({
      verdict: "down",
      reason: "rcode NXDOMAIN, expected NOERROR",
    });
    const refused = await runner.run(typedCheck("dns", { query: "refused.example" }), target(dns.address));
    expect(refused).toMatchObject({ verdict: "down", reason: "rcode REFUSED, expected NOERROR" });
    const nx = typedCheck("dns", { query: "nope.lvsq.test", expectRcode: ["NXDOMAIN"] });
    expect(await runner.run(nx, target(dns.address))).toMatchObject({ verdict: "up" });
    const noData = typedCheck("dns", { queryType: "AAAA", expectAnswer: "." });
    expect(await runner.run(noData, target(dns.address))).toMatchObject({
      verdict: "down",
      reason: /no answer matched/,
    });
  });

  it("is down on ICMP port unreachable (UDP) and on a refused connection (TCP)", async () => {
    const closed = await servers.refusingAddress();
    expect(await runner.run(typedCheck("dns"), target(closed))).toMatchObject({
      verdict: "down",
      reason: "ICMP port unreachable",
    });
    expect(await runner.run(typedCheck("dns", { transport: "tcp" }), target(closed))).toMatchObject({
      verdict: "down",
      reason: "connect ECONNREFUSED",
    });
  });

  it("times out on a server that never answers, and ignores datagrams with another id", async () => {
    const silent = await udpServer(servers, () => {});
    const startedAt = performance.now();
    const result = await runner.run(typedCheck("dns", { timeoutMs: 300 }), target(silent));
    expect(result).toMatchObject({ verdict: "down", reason: "timeout after 300 ms in answer" });
    expect(performance.now() - startedAt).toBeLessThan(300 + 250);
    const stray = await udpServer(servers, (message, reply) => {
      const bogus = Buffer.from(message);
      bogus.writeUInt16BE((message.readUInt16BE(0) + 1) & 0xffff, 0);
      reply(bogus);
    });
    expect(await runner.run(typedCheck("dns", { timeoutMs: 300 }), target(stray))).toMatchObject({
      verdict: "down",
      reason: "timeout after 300 ms in answer",
    });
  });

  it("is down on an answer that is not DNS", async () => {
    const garbage = await udpServer(servers, (_message, reply) => reply("hello"));
    const result = await runner.run(typedCheck("dns"), target(garbage));
    expect(result.verdict).toBe("down");
    expect(result.reason).toMatch(/^bad answer: /);
  });
});
