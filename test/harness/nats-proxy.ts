import { createServer, connect as netConnect, type Server, type Socket } from "node:net";

/**
 * A TCP proxy to one nats-server port, listening on `host` (an address of the namespace the scenario runs
 * in, e.g. the guest's management bridge), that can be cut (sockets destroyed, port closed: the clients
 * behind it lose NATS as across a partition) and healed on the same port.
 */
export function natsProxy(host: string, natsPort: number) {
  let server: Server | undefined;
  let port = 0;
  let listening = false;
  const sockets = new Set<Socket>();
  const listen = () =>
    new Promise<void>((ready, fail) => {
      server = createServer((client) => {
        const upstream = netConnect(natsPort, "127.0.0.1");
        const end = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        for (const s of [client, upstream]) s.on("error", end).on("close", end);
      });
      server.once("error", fail);
      server.listen(port, host, () => {
        port = (server!.address() as { port: number }).port;
        listening = true;
        ready();
      });
    });
  return {
    listen,
    url: () => `nats://${host}:${port}`,
    isCut: () => !listening,
    cut() {
      listening = false;
      server?.close();
      for (const s of sockets) s.destroy();
    },
  };
}

export type NatsProxy = ReturnType<typeof natsProxy>;

/** One proxy per nats-server port (a cluster's nodes), cut and healed together: one host's path to NATS. */
export async function natsProxySet(host: string, natsPorts: readonly number[]) {
  const proxies = natsPorts.map((p) => natsProxy(host, p));
  for (const p of proxies) await p.listen();
  return {
    proxies,
    /** The comma-separated URL list agents take in LVSQ_NATS_URL. */
    urls: () => proxies.map((p) => p.url()).join(","),
    cut: () => {
      for (const p of proxies) p.cut();
    },
    heal: async () => {
      for (const p of proxies) if (p.isCut()) await p.listen();
    },
  };
}
