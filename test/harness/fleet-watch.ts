import type { ServiceExplanation } from "@lvsq/engine";
import { subjects } from "@lvsq/protocol";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { readKernelService, tableText } from "./topology.js";

/**
 * What a multi-site scenario watches INSIDE the guest: the director's kernel table (polled from
 * /proc/<pid>/net/ip_vs every 25 ms, keeping every change with its time) and the bus (director heartbeats,
 * events, explain requests) over a NATS connection from the root namespace that reconnects on its own.
 */

export type TableChange = { t: number; table: Record<string, number>; text: string };

export function watchKernelTable(pid: number, vip: string, port: number, everyMs = 25) {
  const changes: TableChange[] = [];
  const sample = () => {
    let table: Record<string, number>;
    try {
      table = readKernelService(pid, vip, port);
    } catch {
      return; // the parked process is gone: the scenario is ending
    }
    const text = tableText(table);
    if (changes.at(-1)?.text !== text) changes.push({ t: Date.now(), table, text });
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    changes,
    /** Reads the table now (and logs it as a change if it is one, so the log agrees with every read). */
    current: () => {
      sample();
      return changes.at(-1)?.table ?? readKernelService(pid, vip, port);
    },
    /** Changes strictly after `since` (epoch ms). */
    changesSince: (since: number) => changes.filter((c) => c.t > since),
    stop: () => clearInterval(timer),
  };
}

export type Heartbeat = {
  director: string;
  role: string;
  sentAt: number;
  /** Set by paired directors: the pair, the newest term seen and the term of the table applied. */
  pair?: string;
  epoch?: number;
  appliedEpoch?: number;
  tableDigest?: string;
  counts: Record<string, number>;
  receivedAt: number;
};
export type BusEvent = { receivedAt: number; subject: string; event: Record<string, unknown> };

export async function watchBus(url: string | readonly string[], cluster: string) {
  const nc: NatsConnection = await connect({
    servers: typeof url === "string" ? url : [...url],
    name: "lvsq-e2e-watch",
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 2000,
    // A loaded emulated guest can take longer than 2 s to answer the first handshake: keep dialing (the
    // scenario's own deadline bounds it).
    timeout: 10_000,
    waitOnFirstConnect: true,
  });
  const heartbeats: Heartbeat[] = [];
  const events: BusEvent[] = [];
  nc.subscribe(`lvsq.${cluster}.status.director.*`, {
    callback: (_e, msg) => {
      try {
        heartbeats.push({ ...(JSON.parse(msg.string()) as Heartbeat), receivedAt: Date.now() });
      } catch {}
    },
  });
  nc.subscribe(subjects.allEvents(cluster), {
    callback: (_e, msg) => {
      try {
        const envelope = JSON.parse(msg.string()) as { event: Record<string, unknown> };
        events.push({ receivedAt: Date.now(), subject: msg.subject, event: envelope.event });
      } catch {}
    },
  });
  await nc.flush();
  return {
    nc,
    heartbeats,
    events,
    /** The first heartbeat of `director` received after `since` (polls; bounded). */
    async heartbeatAfter(director: string, since: number, timeoutMs = 10_000): Promise<Heartbeat> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = heartbeats.find((h) => h.director === director && h.receivedAt > since);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no heartbeat from ${director} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    /** The newest heartbeat received from `director`, if any. */
    latestHeartbeat(director: string): Heartbeat | undefined {
      return heartbeats.findLast((h) => h.director === director);
    },
    async explain(director: string, service: string): Promise<ServiceExplanation | undefined> {
      try {
        const reply = await nc.request(subjects.explain(cluster, director), JSON.stringify({ service }), {
          timeout: 2000,
        });
        const answer = JSON.parse(reply.string()) as { explanation?: ServiceExplanation };
        return answer.explanation;
      } catch {
        return undefined;
      }
    },
    publishRaw(subject: string, data: string): void {
      nc.publish(subject, data);
    },
    flush: () => nc.flush(),
    close: () => nc.close(),
  };
}

/** Site verdicts per real server from an explanation: { "198.51.100.11:8080": { a: "down", b: "up" } }. */
export function siteVerdicts(e: ServiceExplanation | undefined): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const rs of e?.realServers ?? []) {
    out[rs.rs] = Object.fromEntries(rs.sites.map((s) => [s.site, s.verdict]));
  }
  return out;
}

/** Polls `test` every `everyMs` until it returns a value other than undefined; throws after `timeoutMs`. */
export async function poll<T>(
  what: string,
  test: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await test();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
