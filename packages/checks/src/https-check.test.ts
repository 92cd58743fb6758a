import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCheckRunner } from "./runner.js";
import { TestServers, httpCheck, makeSelfSignedCert } from "./test-servers.js";

const servers = new TestServers();
const runner = createCheckRunner();
let tls: ReturnType<typeof makeSelfSignedCert>;
let address: string;
const serverNames: (string | false)[] = [];

beforeAll(async () => {
  tls = makeSelfSignedCert(servers.tempDir());
  address = await servers.https(tls, (req, res) => {
    serverNames.push((req.socket as { servername?: string | false }).servername ?? false);
    res.end("secure ok");
  });
});
afterAll(() => servers.closeAll());

const target = (rs: string) => ({ address: rs, service: "web" });

describe("https check", () => {
  it("is down with a TLS reason when the certificate cannot be verified", async () => {
    const result = await runner.run(httpCheck({ type: "https" }), target(address));
    expect(result).toMatchObject({ verdict: "down", reason: "TLS: self-signed certificate" });
  });

  it("is up with tlsVerify off", async () => {
    const check = httpCheck({ type: "https", tlsVerify: false, expectBody: "secure" });
    expect(await runner.run(check, target(address))).toMatchObject({ verdict: "up", reason: "HTTP 200" });
  });

  it("verifies against a CA file and sends the SNI name", async () => {
    const check = httpCheck({ type: "https", ca: tls.certPath, sni: "lvsq.test" });
    expect(await runner.run(check, target(address))).toMatchObject({ verdict: "up", reason: "HTTP 200" });
    expect(serverNames.at(-1)).toBe("lvsq.test");
  });

  it("is down when the certificate does not name the address it was reached at", async () => {
    const result = await runner.run(httpCheck({ type: "https", ca: tls.certPath }), target(address));
    expect(result.verdict).toBe("down");
    expect(result.reason).toMatch(/^TLS: .*does not match/);
  });

  it("abstains when the CA file cannot be read", async () => {
    const check = httpCheck({ type: "https", ca: join(servers.tempDir(), "missing.pem") });
    const result = await runner.run(check, target(address));
    expect(result.verdict).toBe("abstain");
    expect(result.reason).toMatch(/^CA file .*missing\.pem: ENOENT$/);
  });

  it("is down with a TLS reason when the port speaks plain HTTP", async () => {
    const plain = await servers.http((_req, res) => res.end());
    const result = await runner.run(httpCheck({ type: "https", tlsVerify: false }), target(plain));
    expect(result.verdict).toBe("down");
    expect(result.reason).toMatch(/^TLS: /);
  });
});

describe("https check with a client certificate (mTLS)", () => {
  it("presents cert and key to a server that requires them, and is down without them", async () => {
    const client = makeSelfSignedCert(servers.tempDir(), { days: 30, name: "probe.lvsq.test" });
    const mtls = await servers.https(
      { ...tls, requestCert: true, rejectUnauthorized: true, ca: client.cert } as typeof tls,
      (_req, res) => res.end("hello client"),
    );
    const base = { type: "https" as const, ca: tls.certPath, sni: "lvsq.test" };
    const withCert = await runner.run(
      httpCheck({ ...base, cert: client.certPath, key: client.keyPath }),
      target(mtls),
    );
    expect(withCert).toMatchObject({ verdict: "up", reason: "HTTP 200" });
    const without = await runner.run(httpCheck(base), target(mtls));
    expect(without.verdict).toBe("down");
  });

  it("abstains when the client certificate cannot be read", async () => {
    const check = httpCheck({ type: "https", cert: "/nonexistent/c.pem", key: "/nonexistent/k.pem" });
    expect(await runner.run(check, target(address))).toMatchObject({
      verdict: "abstain",
      reason: "client certificate /nonexistent/c.pem: ENOENT",
    });
  });
});
