import { describe, expect, it } from "vitest";
import { ConfigError } from "./errors.js";
import { parseConfig } from "./load.js";

/** A one-service standalone config whose check is `check` (YAML flow mapping). */
const withCheck = (check: string, extra = "") =>
  `cluster: c\nservices:\n  s:\n    vip: 192.0.2.1:53\n${extra}    check: ${check}\n    realServers: [{ address: 198.51.100.1:53 }]\n`;
const load = (text: string) => parseConfig(text, "c.yaml", { env: {} });
const problems = (text: string) => {
  try {
    load(text);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}: ${i.message}`);
    throw error;
  }
  return [];
};

describe("check types beyond http, tcp and exec", () => {
  it("resolves each with its defaults", () => {
    expect(load(withCheck("{ type: dns, query: www.example.com }")).services.s!.check).toMatchObject({
      type: "dns",
      query: "www.example.com",
      queryType: "A",
      transport: "udp",
      expectRcode: ["NOERROR"],
      recurse: true,
    });
    expect(load(withCheck("{ type: udp, sendHex: 0d0a }")).services.s!.check).toMatchObject({
      type: "udp",
      sendHex: "0d0a",
      requireReply: true,
    });
    expect(load(withCheck("{ type: icmp }")).services.s!.check).toEqual({
      type: "icmp",
      intervalMs: 2000,
      timeoutMs: 1000,
      rise: 2,
      fall: 3,
      port: undefined,
    });
    expect(
      load(withCheck("{ type: smtp, starttls: true, ca: /etc/ca.pem }")).services.s!.check,
    ).toMatchObject({
      type: "smtp",
      starttls: true,
      tlsVerify: true,
      ca: "/etc/ca.pem",
    });
    expect(load(withCheck("{ type: tls, expiryDown: 7d, expiryWarn: 30d }")).services.s!.check).toMatchObject(
      {
        type: "tls",
        expiryDownMs: 7 * 86_400_000,
        expiryWarnMs: 30 * 86_400_000,
      },
    );
    expect(load(withCheck('{ type: agent, port: 9777, send: "ping\\n" }')).services.s!.check).toMatchObject({
      type: "agent",
      port: 9777,
      send: "ping\n",
    });
    expect(load(withCheck("{ type: https, cert: /c.pem, key: /k.pem }")).services.s!.check).toMatchObject({
      cert: "/c.pem",
      key: "/k.pem",
    });
  });

  it("drops a port inherited from defaults for icmp, and refuses one written on it", () => {
    const inherited = `cluster: c\ndefaults: { check: { port: 8080 } }\nservices:\n  s:\n    vip: 192.0.2.1:53\n    check: { type: icmp }\n    realServers: [{ address: 198.51.100.1:53 }]\n`;
    expect(load(inherited).services.s!.check.port).toBeUndefined();
    expect(problems(withCheck("{ type: icmp, port: 7 }"))).toEqual([
      "services.s.check.port: an icmp check has no port",
    ]);
  });

  it.each([
    ["{ type: dns }", "services.s.check.query: a dns check needs a query"],
    ["{ type: dns, query: 'not a name!' }", "services.s.check.query: expected a DNS name"],
    ["{ type: dns, query: a.example, queryType: AXFR }", "services.s.check.queryType: Invalid option"],
    [
      "{ type: dns, query: a.example, expectRcode: [NOPE] }",
      "services.s.check.expectRcode[0]: Invalid option",
    ],
    [
      "{ type: udp, send: a, sendHex: '00' }",
      "services.s.check.sendHex: set either send or sendHex, not both",
    ],
    ["{ type: udp, sendHex: 0g }", "services.s.check.sendHex: expected hex bytes"],
    ["{ type: udp, expect: ok, requireReply: false }", "services.s.check.expect: expect needs a reply"],
    ["{ type: udp, expectRegex: '(' }", "services.s.check.expectRegex: expected a valid regular expression"],
    ["{ type: smtp, ca: /ca.pem }", "services.s.check.ca: ca applies only with starttls: true"],
    ["{ type: tls, cert: /c.pem }", "services.s.check.key: a client certificate needs both cert and key"],
    [
      "{ type: tls, expiryDown: 30d, expiryWarn: 7d }",
      "services.s.check.expiryWarn: expiryWarn must be longer than expiryDown",
    ],
    ["{ type: tls, expiryDown: 7days }", 'services.s.check.expiryDown: expected a duration like "500ms"'],
    ["{ type: agent, path: /x }", 'services.s.check.path: "path" does not apply to a agent check'],
    ["{ type: tcp, query: x }", 'services.s.check.query: "query" does not apply to a tcp check'],
    ["{ type: ping }", "services.s.check.type: Invalid option"],
  ])("%s is refused with the field path", (check, fragment) => {
    const found = problems(withCheck(check));
    expect(
      found.some((p) => p.startsWith(fragment)),
      found.join("\n"),
    ).toBe(true);
  });
});
