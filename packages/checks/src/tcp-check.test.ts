import { afterEach, describe, expect, it } from "vitest";
import { createCheckRunner } from "./runner.js";
import { freePort, TestServers, tcpCheck } from "./test-servers.js";

const servers = new TestServers();
const runner = createCheckRunner();
afterEach(() => servers.closeAll());

const target = (address: string) => ({ address, service: "redis" });

describe("tcp check", () => {
  it("is up when the connection opens", async () => {
    const address = await servers.tcp(() => {});
    expect(await runner.run(tcpCheck(), target(address))).toMatchObject({
      verdict: "up",
      reason: "connected",
    });
  });

  it("is down with connect ECONNREFUSED when nothing listens", async () => {
    const result = await runner.run(tcpCheck(), target(await servers.refusingAddress()));
    expect(result).toMatchObject({ verdict: "down", reason: "connect ECONNREFUSED" });
  });

  it("sends and finds the expected text in the reply", async () => {
    const address = await servers.tcp((socket) =>
      socket.on("data", (data) => {
        // Answer in two pieces, so the match has to span chunks.
        if (data.toString().includes("PING")) {
          socket.write("+PO");
          setImmediate(() => socket.write("NG\r\n"));
        }
      }),
    );
    const check = tcpCheck({ send: "PING\r\n", expect: "+PONG" });
    expect(await runner.run(check, target(address))).toMatchObject({
      verdict: "up",
      reason: "reply matched",
    });
  });

  it("sends and expects hex bytes", async () => {
    const address = await servers.tcp((socket) =>
      socket.once("data", (data) => socket.end(Buffer.concat([data, Buffer.from([0xfe])]))),
    );
    const check = tcpCheck({ sendHex: "00ff", expectHex: "fffe" });
    expect(await runner.run(check, target(address))).toMatchObject({
      verdict: "up",
      reason: "reply matched",
    });
    const wrong = await runner.run(tcpCheck({ sendHex: "00ff", expectHex: "0102" }), target(address));
    expect(wrong).toMatchObject({ verdict: "down", reason: 'closed before reply contained "hex 0102"' });
  });

  it("is down when the reply does not contain the expected text", async () => {
    const address = await servers.tcp((socket) => socket.once("data", () => socket.end("-ERR loading\r\n")));
    const result = await runner.run(tcpCheck({ send: "PING\r\n", expect: "+PONG" }), target(address));
    expect(result).toMatchObject({
      verdict: "down",
      reason: 'closed before reply contained "+PONG"',
      detail: "-ERR loading\r\n",
    });
  });

  it("waits for a banner without sending, and times out in the reply phase", async () => {
    const banner = await servers.tcp((socket) => socket.write("220 smtp ready\r\n"));
    const up = await runner.run(tcpCheck({ expect: "220 " }), target(banner));
    expect(up).toMatchObject({ verdict: "up", reason: "reply matched" });
    const silent = await servers.tcp(() => {});
    const startedAt = performance.now();
    const down = await runner.run(tcpCheck({ expect: "220 ", timeoutMs: 300 }), target(silent));
    expect(down).toMatchObject({ verdict: "down", reason: "timeout after 300 ms in reply" });
    expect(performance.now() - startedAt).toBeLessThan(300 + 250);
  });

  it("abstains when the probe itself stalled past its deadline, instead of accusing the server", async () => {
    const banner = await servers.tcp((socket) => socket.write("220 smtp ready\r\n"));
    const pending = runner.run(tcpCheck({ expect: "220 ", timeoutMs: 200 }), target(banner));
    const until = performance.now() + 800;
    while (performance.now() < until) {
      // a stalled probe: nothing else runs
    }
    const result = await pending;
    expect(result.verdict).toBe("abstain");
    expect(result.reason).toMatch(/^probe stalled: its 200 ms timeout fired \d+ ms late in (connect|reply)$/);
  });

  it("uses the port from the config when it is set", async () => {
    const address = await servers.tcp(() => {});
    const port = Number(address.split(":")[1]);
    const result = await runner.run(tcpCheck({ port }), target(await servers.refusingAddress()));
    expect(result.verdict).toBe("up");
  });
});

describe("tcp check bound to a source address and port (checks through the forwarding path)", () => {
  it("leaves from the given address and port, and frees the port at once (reset, no TIME_WAIT)", async () => {
    const peers: string[] = [];
    const address = await servers.tcp((socket) => {
      socket.on("error", () => {}); // the check's reset
      peers.push(`${socket.remoteAddress}:${socket.remotePort}`);
    });
    const port = await freePort("127.0.0.2");
    const bound = { ...target(address), bind: { address: "127.0.0.2", port } };
    expect(await runner.run(tcpCheck(), bound)).toMatchObject({ verdict: "up" });
    // The same 4-tuple again: a FIN close would leave it in TIME_WAIT and this bind would fail.
    expect(await runner.run(tcpCheck(), bound)).toMatchObject({ verdict: "up" });
    expect(peers).toEqual([`127.0.0.2:${port}`, `127.0.0.2:${port}`]);
  });

  it("abstains when the source address is not this host's", async () => {
    const address = await servers.tcp(() => {});
    const bound = { ...target(address), bind: { address: "192.0.2.99", port: 61000 } };
    expect(await runner.run(tcpCheck(), bound)).toMatchObject({
      verdict: "abstain",
      reason: "connect EADDRNOTAVAIL",
    });
  });
});
