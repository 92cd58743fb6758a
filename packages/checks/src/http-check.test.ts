import type { IncomingHttpHeaders } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { createCheckRunner } from "./runner.js";
import { freePort, TestServers, httpCheck } from "./test-servers.js";

const servers = new TestServers();
const runner = createCheckRunner();
afterEach(() => servers.closeAll());

const target = (address: string) => ({ address, service: "web" });

describe("http check", () => {
  it("is up on 200 and reports latency", async () => {
    const address = await servers.http((_req, res) => res.end("ok"));
    const result = await runner.run(httpCheck(), target(address));
    expect(result).toMatchObject({ verdict: "up", reason: "HTTP 200" });
    expect(result.latencyMs).toBeGreaterThan(0);
  });

  it("does not follow a 301, which is up inside 200-399", async () => {
    let requests = 0;
    const address = await servers.http((_req, res) => {
      requests++;
      res.writeHead(301, { location: "http://127.0.0.1:1/elsewhere" }).end();
    });
    const result = await runner.run(httpCheck(), target(address));
    expect(result).toMatchObject({ verdict: "up", reason: "HTTP 301" });
    expect(requests).toBe(1);
  });

  it("is down on 503, and on a status outside an exact list", async () => {
    const address = await servers.http((req, res) => res.writeHead(req.url === "/a" ? 503 : 204).end());
    expect(await runner.run(httpCheck({ path: "/a" }), target(address))).toMatchObject({
      verdict: "down",
      reason: "HTTP 503",
    });
    const exact = httpCheck({ path: "/b", expectStatus: [[200, 200]] });
    expect(await runner.run(exact, target(address))).toMatchObject({ verdict: "down", reason: "HTTP 204" });
  });

  it("matches the body against expectBody", async () => {
    const address = await servers.http((req, res) =>
      res.end(req.url === "/good" ? "status: ok\n" : "status: bad\n"),
    );
    const good = await runner.run(httpCheck({ path: "/good", expectBody: "status: ok" }), target(address));
    expect(good).toMatchObject({ verdict: "up", reason: "HTTP 200" });
    const bad = await runner.run(httpCheck({ path: "/bad", expectBody: "status: ok" }), target(address));
    expect(bad).toMatchObject({
      verdict: "down",
      reason: "body did not match /status: ok/",
      detail: "status: bad\n",
    });
  });

  it("looks at the first 64 KiB of the body only, and stops reading there", async () => {
    const filler = "x".repeat(70 * 1024);
    const address = await servers.http((req, res) => {
      if (req.url === "/late") return res.end(`${filler}MARKER`);
      // An endless body: the check must stop reading on its own.
      res.writeHead(200);
      const pump = () => {
        while (res.write(filler)) {}
      };
      res.on("drain", pump);
      pump();
    });
    const late = await runner.run(httpCheck({ path: "/late", expectBody: "MARKER" }), target(address));
    expect(late).toMatchObject({ verdict: "down", reason: "body did not match /MARKER/" });
    expect(Buffer.byteLength(late.detail ?? "")).toBeLessThanOrEqual(256);
    const endless = await runner.run(httpCheck({ path: "/endless", timeoutMs: 5000 }), target(address));
    expect(endless).toMatchObject({ verdict: "up", reason: "HTTP 200" });
    expect(endless.latencyMs).toBeLessThan(2000);
  });

  it("sends method, path, headers and a Host that defaults to the address", async () => {
    const seen: { method?: string; url?: string; headers: IncomingHttpHeaders }[] = [];
    const address = await servers.http((req, res) => {
      seen.push({ method: req.method, url: req.url, headers: req.headers });
      res.end();
    });
    await runner.run(httpCheck({ path: "/healthz?full=1", method: "HEAD" }), target(address));
    const custom = httpCheck({ host: "www.example.test", headers: { "x-probe": "lvsq" } });
    await runner.run(custom, target(address));
    expect(seen[0]).toMatchObject({ method: "HEAD", url: "/healthz?full=1", headers: { host: address } });
    expect(seen[1]).toMatchObject({
      method: "GET",
      headers: { host: "www.example.test", "x-probe": "lvsq" },
    });
  });

  it("checks the port from the config instead of the real server's", async () => {
    const address = await servers.http((_req, res) => res.end());
    const port = Number(address.split(":")[1]);
    const refused = await servers.refusingAddress();
    expect(await runner.run(httpCheck({ port }), target(refused))).toMatchObject({ verdict: "up" });
  });

  it("is down with connect ECONNREFUSED when nothing listens", async () => {
    const result = await runner.run(httpCheck(), target(await servers.refusingAddress()));
    expect(result).toMatchObject({ verdict: "down", reason: "connect ECONNREFUSED" });
  });

  it("gives up on a server that accepts and never answers, within the timeout", async () => {
    const address = await servers.tcp(() => {});
    const startedAt = performance.now();
    const result = await runner.run(httpCheck({ timeoutMs: 300 }), target(address));
    const elapsedMs = performance.now() - startedAt;
    expect(result).toMatchObject({ verdict: "down", reason: "timeout after 300 ms in headers" });
    expect(elapsedMs).toBeGreaterThanOrEqual(295);
    expect(elapsedMs).toBeLessThan(300 + 250); // timeout + 100 ms, with room for a loaded CI machine
  });

  it("abstains when the probe itself stalled past its deadline: the server may have answered in time", async () => {
    const address = await servers.http((_req, res) => res.end("ok"));
    const pending = runner.run(httpCheck({ timeoutMs: 200 }), target(address));
    blockEventLoop(800); // a long GC, a loaded host: the deadline fires about 600 ms late
    const result = await pending;
    expect(result.verdict).toBe("abstain");
    expect(result.reason).toMatch(
      /^probe stalled: its 200 ms timeout fired \d+ ms late in (connect|headers)$/,
    );
    // Unstalled, the same server is up.
    expect((await runner.run(httpCheck({ timeoutMs: 200 }), target(address))).verdict).toBe("up");
  });

  it("says the body timed out when headers arrive and the body stalls", async () => {
    const address = await servers.http((_req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("partial");
    });
    const startedAt = performance.now();
    const result = await runner.run(httpCheck({ timeoutMs: 300 }), target(address));
    expect(result).toMatchObject({ verdict: "down", reason: "timeout after 300 ms in body" });
    expect(performance.now() - startedAt).toBeLessThan(300 + 250);
  });

  it("is down when the server closes the connection without answering", async () => {
    const address = await servers.tcp((socket) => socket.once("data", () => socket.destroy()));
    const result = await runner.run(httpCheck(), target(address));
    expect(result).toMatchObject({ verdict: "down" });
    expect(result.reason).toMatch(/closed in headers|ECONNRESET in headers/);
  });

  it("is down on a response that is not HTTP", async () => {
    const address = await servers.tcp((socket) =>
      socket.once("data", () => socket.end("SSH-2.0-OpenSSH\r\n")),
    );
    const result = await runner.run(httpCheck(), target(address));
    expect(result.verdict).toBe("down");
    expect(result.reason).toMatch(/^bad response/);
  });

  it("abstains when cancelled, when the config cannot be used, or when the target is malformed", async () => {
    const address = await servers.tcp(() => {});
    const controller = new AbortController();
    const pending = runner.run(httpCheck(), target(address), { signal: controller.signal });
    controller.abort();
    expect(await pending).toMatchObject({ verdict: "abstain", reason: "cancelled" });
    const badRegex = await runner.run(httpCheck({ expectBody: "(" }), target(address));
    expect(badRegex.verdict).toBe("abstain");
    const badHeader = await runner.run(httpCheck({ headers: { "bad header": "x" } }), target(address));
    expect(badHeader).toMatchObject({ verdict: "abstain" });
    expect(badHeader.reason).toMatch(/^invalid request/);
    expect(await runner.run(httpCheck(), target("nonsense"))).toMatchObject({ verdict: "abstain" });
  });

  it("opens a fresh connection for every check", async () => {
    const peers = new Set<number>();
    const address = await servers.http((req, res) => {
      peers.add(req.socket.remotePort ?? 0);
      res.end("ok");
    });
    for (let i = 0; i < 5; i++) await runner.run(httpCheck(), target(address));
    expect(peers.size).toBe(5);
  });
});

function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy on purpose: nothing else runs
  }
}

describe("http check bound to a source address and port (checks through the forwarding path)", () => {
  it("leaves from the given address and port", async () => {
    let peer = "";
    const address = await servers.http((req, res) => {
      peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
      res.end("ok");
    });
    const port = await freePort("127.0.0.3");
    const result = await runner.run(httpCheck(), {
      ...target(address),
      bind: { address: "127.0.0.3", port },
    });
    expect(result).toMatchObject({ verdict: "up", reason: "HTTP 200" });
    expect(peer).toBe(`127.0.0.3:${port}`);
  });
});
