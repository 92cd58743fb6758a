import { type Bus, connectNatsBus } from "@lvsq/bus";
import type { VoteBatch } from "@lvsq/protocol";
import { pino } from "pino";
import type { NatsServerHandle } from "../harness/nats.js";

// Shared by bus-nats.test.ts (messages, requests, KV, the lease, permissions) and bus-nats-faults.test.ts
// (a killed, a late and a hung server).

export const logger = pino({ level: "silent" });
export const cluster = "e2e";

export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function batch(seq: number, probe = "p1"): VoteBatch {
  return {
    v: 1,
    cluster,
    probe,
    site: "dc1",
    service: "web",
    seq,
    sentAt: Date.now(),
    intervalMs: 2000,
    votes: [{ rs: "127.0.0.2:80", state: "up", since: 0, latencyMs: 1.5, reason: "HTTP 200" }],
  };
}

/** Opens buses on a test's server (or another URL) and closes them all at the end. */
export function busOpener(server: () => NatsServerHandle) {
  const buses: Bus[] = [];
  return {
    async open(name: string, extra: { firstConnectWaitMs?: number; url?: string } = {}) {
      const bus = await connectNatsBus({ servers: [extra.url ?? server().url], name, logger, ...extra });
      buses.push(bus);
      return bus;
    },
    async closeAll() {
      for (const bus of buses.splice(0)) await bus.close();
    },
  };
}
