import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Binds `server` to a parsed HOST:PORT (port 0 = any free port) and resolves with the bound port, the
 * base URL to print (a wildcard host is shown as loopback, IPv6 bracketed), and a `close` that also drops
 * kept-alive connections so they never hold a stopping process open. Rejects when the address cannot be bound.
 */
export async function listenHttp(
  server: Server,
  address: { host: string; port: number },
): Promise<{ port: number; baseUrl: string; close(): Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shown = address.host === "0.0.0.0" ? "127.0.0.1" : address.host === "::" ? "::1" : address.host;
  const host = shown.includes(":") ? `[${shown}]` : shown;
  return {
    port,
    baseUrl: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
