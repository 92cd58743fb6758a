import { afterEach, describe, expect, it } from "vitest";
import { udpServer } from "./protocol-servers.js";
import { createCheckRunner } from "./runner.js";
import { TestServers, typedCheck } from "./test-servers.js";

const servers = new TestServers();
const runner = createCheckRunner();
afterEach(() => servers.closeAll());

const target = (address: string) => ({ address, service: "syslog" });
/** A UDP echo server: answers every datagram with the same bytes. */
const echo = () => udpServer(servers, (message, reply) => reply(message));

describe("udp check against a real UDP echo on 127.0.0.1", () => {
  it("is up when the echo contains expect, as text or hex", async () => {
    const address = await echo();
    const text = await runner.run(typedCheck("udp", { send: "ping lvsq", expect: "lvsq" }), target(address));
    expect(text).toMatchObject({ verdict: "up", reason: "reply matched" });
    const hex = typedCheck("udp", { sendHex: "00ff10", expectHex: "ff10" });
    expect(await runner.run(hex, target(address))).toMatchObject({ verdict: "up", reason: "reply matched" });
  });

  it("matches expectRegex, and is up on any reply without an expectation", async () => {
    const address = await udpServer(servers, (_m, reply) => reply("OK 42 clients"));
    const regex = typedCheck("udp", { send: "status", expectRegex: "^OK \\d+" });
    expect(await runner.run(regex, target(address))).toMatchObject({
      verdict: "up",
      reason: "reply matched",
    });
    expect(await runner.run(typedCheck("udp", { send: "x" }), target(address))).toMatchObject({
      verdict: "up",
      reason: "reply received",
    });
  });

  it("is down at the deadline when no reply matches", async () => {
    const address = await udpServer(servers, (_m, reply) => reply("ERR busy"));
    const result = await runner.run(
      typedCheck("udp", { send: "status", expect: "OK", timeoutMs: 300 }),
      target(address),
    );
    expect(result).toMatchObject({
      verdict: "down",
      reason: 'timeout after 300 ms in reply (last did not match "OK")',
    });
  });

  it("is down on ICMP port unreachable, with or without requireReply", async () => {
    const closed = await servers.refusingAddress();
    for (const requireReply of [true, false]) {
      const result = await runner.run(typedCheck("udp", { send: "x", requireReply }), target(closed));
      expect(result).toMatchObject({ verdict: "down", reason: "ICMP port unreachable" });
    }
  });

  it("needs a reply by default; with requireReply: false silence is up (keepalived's UDP_CHECK)", async () => {
    const silent = await udpServer(servers, () => {});
    const down = await runner.run(typedCheck("udp", { send: "x", timeoutMs: 300 }), target(silent));
    expect(down).toMatchObject({ verdict: "down", reason: "timeout after 300 ms in reply" });
    const up = await runner.run(
      typedCheck("udp", { send: "x", timeoutMs: 300, requireReply: false }),
      target(silent),
    );
    expect(up).toMatchObject({ verdict: "up", reason: "no reply and no port unreachable within 270 ms" });
  });
});
