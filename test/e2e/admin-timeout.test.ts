import { execFile } from "node:child_process";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lvsqBin, tempConfig } from "../harness/agents.js";

// A broker that takes the connection and the handshake and then answers nothing (the way an overloaded or
// half-partitioned server looks from a client): `lvsq admin` must give up on its own deadline and say which
// step it was stuck in, instead of hanging with an empty terminal.
const run = promisify(execFile);

function startSilentBroker(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.write(
      `INFO ${JSON.stringify({ server_id: "silent", server_name: "silent", version: "2.10.0", proto: 1, host: "127.0.0.1", port: 4222, headers: true, max_payload: 1048576, jetstream: true })}\r\n`,
    );
    socket.on("data", (chunk: Buffer) => {
      // Only the handshake's PINGs are answered; requests (the JetStream API) never are.
      for (const line of chunk.toString("latin1").split("\r\n"))
        if (line === "PING") socket.write("PONG\r\n");
    });
  });
  return new Promise((ready) =>
    server.listen(0, "127.0.0.1", () =>
      ready({ server, port: (server.address() as AddressInfo).port, sockets }),
    ),
  );
}

describe("lvsq admin against a broker that answers nothing", () => {
  let broker: Awaited<ReturnType<typeof startSilentBroker>>;
  let file: string;
  beforeAll(async () => {
    broker = await startSilentBroker();
    file = tempConfig(`cluster: silent
nats: { servers: ["nats://127.0.0.1:${broker.port}"] }
sites: [a]
probes: [{ id: p1, site: a }]
services:
  web:
    vip: 192.0.2.10:80
    realServers: [{ address: 198.51.100.11:80 }]
`);
  });
  afterAll(() => {
    for (const socket of broker.sockets) socket.destroy();
    broker.server.close();
  });

  it("gives up after --timeout, names the step and says the record was not written (exit 1)", async () => {
    const started = performance.now();
    const failed = await run(
      process.execPath,
      [lvsqBin, "admin", "disable", "web", "198.51.100.11:80", "--config", file, "--timeout", "1500ms"],
      { timeout: 30_000 },
    ).catch((e: { code: number; stderr: string }) => e);
    const elapsed = performance.now() - started;
    expect("code" in failed && failed.code, JSON.stringify(failed)).toBe(1);
    const stderr = (failed as { stderr: string }).stderr;
    expect(stderr).toMatch(
      /lvsq admin timed out after 1500ms while (opening KV bucket lvsq_silent_admin|reading key)/,
    );
    expect(stderr).toContain("the admin record was not written");
    expect(elapsed).toBeLessThan(15_000);
  });
});
