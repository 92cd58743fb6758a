import { createServer } from "node:net";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type NatsServerHandle, startNatsServer } from "./nats.js";

/**
 * A real N-node nats-server cluster with JetStream (the Debian package), and optionally one leaf node per
 * site, the way a multi-site deployment runs NATS. Client ports are ephemeral and read from each server's
 * ports file, as for a single server; route and leaf ports must be known before the servers start (a
 * JetStream cluster refuses to start without configured routes), so they are free ports found just
 * before. Each node keeps its ports across `restart()`, so a node can be killed and brought back.
 */
export type NatsClusterHandle = AsyncDisposable & {
  nodes: NatsServerHandle[];
  /** Every node's client URL: what agents are given (`nats.servers`). */
  urls: string[];
  /** One leaf node per site asked for (no JetStream of its own: probes publish votes there). */
  leafs: Record<string, NatsServerHandle>;
  /** Resolves once JetStream has a meta leader (KV buckets can be created), or throws after `timeoutMs`. */
  waitForJetStream(timeoutMs?: number): Promise<void>;
  dispose(): Promise<void>;
};

export type NatsClusterOptions = {
  /** Nodes in the cluster (default 3). */
  nodes?: number;
  /** Sites that get a leaf node connected to every cluster node. */
  leafSites?: readonly string[];
  /** Extra config for every cluster node (authorization, limits). */
  extraConfig?: string;
  startTimeoutMs?: number;
};

/** `count` distinct ports free on 127.0.0.1 right now. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((ready, fail) => {
          const server = createServer();
          server.once("error", fail);
          server.listen(0, "127.0.0.1", () => ready(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  return ports;
}

export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsClusterHandle> {
  const count = options.nodes ?? 3;
  const sites = options.leafSites ?? [];
  const [routePorts, leafPorts] = [await freePorts(count), await freePorts(sites.length > 0 ? count : 0)];
  const started: NatsServerHandle[] = [];
  const dispose = () => Promise.all(started.map((s) => s.dispose())).then(() => undefined);
  try {
    const nodes = await Promise.all(
      routePorts.map((port, i) =>
        startNatsServer({
          serverName: `lvsq_n${i + 1}`,
          cluster: { name: "lvsq_test", port, routes: routePorts },
          ...(sites.length > 0 ? { leafListenPort: leafPorts[i] } : {}),
          ...(options.extraConfig ? { extraConfig: options.extraConfig } : {}),
          ...(options.startTimeoutMs ? { startTimeoutMs: options.startTimeoutMs } : {}),
        }).then((node) => {
          started.push(node);
          return node;
        }),
      ),
    );
    const leafs: Record<string, NatsServerHandle> = {};
    for (const site of sites) {
      leafs[site] = await startNatsServer({
        jetstream: false,
        serverName: `lvsq_leaf_${site}`,
        leafRemotes: leafPorts,
      });
      started.push(leafs[site]);
    }
    const urls = nodes.map((n) => n.url);
    const handle: NatsClusterHandle = {
      nodes,
      urls,
      leafs,
      waitForJetStream: (timeoutMs = 20_000) => waitForJetStream(urls, timeoutMs),
      dispose,
      [Symbol.asyncDispose]: dispose,
    };
    await handle.waitForJetStream();
    for (const [site, leaf] of Object.entries(leafs)) await waitForLeaf(site, leaf.url, urls, 20_000);
    return handle;
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function poll<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function withConnection<T>(
  servers: readonly string[],
  use: (nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const nc = await connect({ servers: [...servers], timeout: 2000, name: "lvsq-test-cluster-check" });
  try {
    return await use(nc);
  } finally {
    await nc.close();
  }
}

function waitForJetStream(urls: readonly string[], timeoutMs: number): Promise<void> {
  return poll("a JetStream meta leader in the cluster", timeoutMs, () =>
    withConnection(urls, async (nc) => {
      await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo();
      return true;
    }),
  ).then(() => undefined);
}

/** A message published on the leaf reaches a subscriber on the cluster: the leaf connection is up. */
function waitForLeaf(
  site: string,
  leafUrl: string,
  urls: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const subject = `lvsq.test.leaf.${site}`;
  return withConnection(urls, async (hub) => {
    const sub = hub.subscribe(subject, { max: 1 });
    await hub.flush();
    const got = (async () => {
      for await (const _ of sub) return true;
      return false;
    })();
    await withConnection([leafUrl], (leaf) =>
      poll(`leaf node ${site} joined the cluster`, timeoutMs, async () => {
        leaf.publish(subject, "ping");
        await leaf.flush();
        const arrived = await Promise.race([got, new Promise<false>((r) => setTimeout(() => r(false), 200))]);
        return arrived ? true : undefined;
      }),
    );
  });
}
