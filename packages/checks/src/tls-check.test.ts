import { createServer } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCheckRunner } from "./runner.js";
import { TestServers, makeSelfSignedCert, typedCheck } from "./test-servers.js";

const servers = new TestServers();
const runner = createCheckRunner();
const DAY = 86_400_000;
let fresh: ReturnType<typeof makeSelfSignedCert>;
let expiring: ReturnType<typeof makeSelfSignedCert>;
let freshAddress: string;
let expiringAddress: string;
let mtlsAddress: string;
let client: ReturnType<typeof makeSelfSignedCert>;

/** A TLS server that completes the handshake and closes; optionally asks for a client certificate. */
async function tlsServer(cert: { key: Buffer; cert: Buffer }, clientCa?: Buffer): Promise<string> {
  const server = createServer(
    {
      key: cert.key,
      cert: cert.cert,
      ...(clientCa ? { requestCert: true, rejectUnauthorized: true, ca: clientCa } : {}),
    },
    (socket) => socket.end(),
  );
  server.on("tlsClientError", () => {});
  return servers.listen(server);
}

beforeAll(async () => {
  const dir = servers.tempDir();
  fresh = makeSelfSignedCert(dir, { days: 90 });
  expiring = makeSelfSignedCert(dir, { days: 3 });
  client = makeSelfSignedCert(dir, { days: 30, name: "probe.lvsq.test" });
  freshAddress = await tlsServer(fresh);
  expiringAddress = await tlsServer(expiring);
  mtlsAddress = await tlsServer(fresh, client.cert);
});
afterAll(() => servers.closeAll());

const target = (address: string) => ({ address, service: "tls" });
const trusted = (overrides = {}) => typedCheck("tls", { ca: fresh.certPath, sni: "lvsq.test", ...overrides });

describe("tls check against a real TLS server with a generated certificate", () => {
  it("is up after a verified handshake and says how long the certificate is valid", async () => {
    const result = await runner.run(trusted(), target(freshAddress));
    expect(result.verdict).toBe("up");
    expect(result.reason).toMatch(/^TLSv1\.[23]; lvsq\.test valid for (89|90) more days$/);
  });

  it("is down when the certificate does not verify, up with tlsVerify off", async () => {
    expect(await runner.run(typedCheck("tls"), target(freshAddress))).toMatchObject({
      verdict: "down",
      reason: "TLS: self-signed certificate",
    });
    expect(await runner.run(typedCheck("tls", { tlsVerify: false }), target(freshAddress))).toMatchObject({
      verdict: "up",
    });
  });

  it("is down when the certificate expires within expiryDown", async () => {
    const check = typedCheck("tls", { tlsVerify: false, expiryDownMs: 7 * DAY });
    const result = await runner.run(check, target(expiringAddress));
    expect(result.verdict).toBe("down");
    expect(result.reason).toMatch(/^TLS: lvsq\.test expires in [23] days \(down under 7\)$/);
  });

  it("votes up with a warning when it expires within expiryWarn", async () => {
    const check = typedCheck("tls", { tlsVerify: false, expiryDownMs: 1 * DAY, expiryWarnMs: 30 * DAY });
    const result = await runner.run(check, target(expiringAddress));
    expect(result).toMatchObject({ verdict: "up", warning: true });
    expect(result.reason).toMatch(/expires in [23] days \(warning under 30\)$/);
    const calm = await runner.run(
      trusted({ expiryDownMs: DAY, expiryWarnMs: 30 * DAY }),
      target(freshAddress),
    );
    expect(calm.warning).toBeUndefined();
  });

  it("presents a client certificate (mTLS) when the server asks for one", async () => {
    const withCert = await runner.run(
      trusted({ cert: client.certPath, key: client.keyPath }),
      target(mtlsAddress),
    );
    expect(withCert.verdict).toBe("up");
    const without = await runner.run(trusted(), target(mtlsAddress));
    expect(without.verdict).toBe("down");
  });

  it("is down on a port that does not speak TLS, abstains on an unreadable key", async () => {
    const plain = await servers.tcp((socket) => socket.end("hello\r\n"));
    const result = await runner.run(typedCheck("tls", { tlsVerify: false }), target(plain));
    expect(result.verdict).toBe("down");
    const unreadable = await runner.run(
      trusted({ cert: client.certPath, key: "/nonexistent/key.pem" }),
      target(mtlsAddress),
    );
    expect(unreadable).toMatchObject({
      verdict: "abstain",
      reason: "client key /nonexistent/key.pem: ENOENT",
    });
  });
});
