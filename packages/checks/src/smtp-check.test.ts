import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { smtpServer } from "./protocol-servers.js";
import { createCheckRunner } from "./runner.js";
import { TestServers, makeSelfSignedCert, typedCheck } from "./test-servers.js";

const servers = new TestServers();
const certs = new TestServers();
const runner = createCheckRunner();
let tls: ReturnType<typeof makeSelfSignedCert>;
beforeAll(() => {
  tls = makeSelfSignedCert(certs.tempDir(), { days: 30 });
});
afterEach(() => servers.closeAll());
afterAll(() => certs.closeAll());

const target = (address: string) => ({ address, service: "mail" });

describe("smtp check against a real SMTP-speaking server on 127.0.0.1", () => {
  it("reads the banner, says EHLO with heloName and QUITs", async () => {
    const smtp = await smtpServer(servers);
    const result = await runner.run(
      typedCheck("smtp", { heloName: "probe.lvsq.test" }),
      target(smtp.address),
    );
    expect(result).toMatchObject({ verdict: "up", reason: "banner 220, EHLO 250" });
    await expect.poll(() => smtp.seen).toEqual(["EHLO probe.lvsq.test", "QUIT"]);
  });

  it("falls back to HELO when EHLO is refused", async () => {
    const smtp = await smtpServer(servers, { ehlo: "reject" });
    const result = await runner.run(typedCheck("smtp", { heloName: "p" }), target(smtp.address));
    expect(result).toMatchObject({ verdict: "up", reason: "banner 220, HELO 250" });
  });

  it("is down on a banner other than 220", async () => {
    const smtp = await smtpServer(servers, { banner: "554 5.3.2 no service" });
    expect(await runner.run(typedCheck("smtp"), target(smtp.address))).toMatchObject({
      verdict: "down",
      reason: "banner 554, expected 220",
      detail: "5.3.2 no service",
    });
  });

  it("does STARTTLS with a verified certificate and says EHLO again inside", async () => {
    const smtp = await smtpServer(servers, { tls });
    const check = typedCheck("smtp", { heloName: "p", starttls: true, ca: tls.certPath, sni: "lvsq.test" });
    const result = await runner.run(check, target(smtp.address));
    expect(result).toMatchObject({ verdict: "up" });
    expect(result.reason).toMatch(/^banner 220, EHLO 250, STARTTLS TLSv1\.[23], EHLO 250$/);
  });

  it("is down when STARTTLS is not offered or the certificate does not verify", async () => {
    const plain = await smtpServer(servers);
    expect(await runner.run(typedCheck("smtp", { starttls: true }), target(plain.address))).toMatchObject({
      verdict: "down",
      reason: "STARTTLS not offered",
    });
    const secure = await smtpServer(servers, { tls });
    const untrusted = await runner.run(
      typedCheck("smtp", { starttls: true, sni: "lvsq.test" }),
      target(secure.address),
    );
    expect(untrusted).toMatchObject({ verdict: "down", reason: "TLS: self-signed certificate" });
  });

  it("is down on a connection closed in the middle, on a refused port and on silence", async () => {
    const closing = await servers.tcp((socket) => socket.end("220 hi\r\n"));
    expect(await runner.run(typedCheck("smtp"), target(closing))).toMatchObject({
      verdict: "down",
      reason: "closed in EHLO",
    });
    const refused = await servers.refusingAddress();
    expect(await runner.run(typedCheck("smtp"), target(refused))).toMatchObject({
      verdict: "down",
      reason: "connect ECONNREFUSED",
    });
    const silent = await servers.tcp(() => {});
    expect(await runner.run(typedCheck("smtp", { timeoutMs: 300 }), target(silent))).toMatchObject({
      verdict: "down",
      reason: "timeout after 300 ms in banner",
    });
  });

  it("abstains when a TLS file cannot be read", async () => {
    const smtp = await smtpServer(servers, { tls });
    const check = typedCheck("smtp", { starttls: true, ca: "/nonexistent/ca.pem" });
    expect(await runner.run(check, target(smtp.address))).toMatchObject({
      verdict: "abstain",
      reason: "CA file /nonexistent/ca.pem: ENOENT",
    });
  });
});
