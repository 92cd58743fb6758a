import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import { getAsset, isSea } from "node:sea";
import {
  type HttpAuth,
  listenHttp,
  type Logger,
  parseHostPort,
  requireAuth,
  warnIfExposed,
} from "@lvsq/runtime";
import type { FleetModel } from "./model.js";

export type StatusPageServer = {
  readonly port: number;
  /** `http://host:port/` */
  readonly url: string;
  close(): Promise<void>;
};

/** The page's files, read from the package (`web/`, next to `src/` and `dist/`): no CDN, no build step. */
const ASSETS: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/dom.js": { file: "dom.js", type: "text/javascript; charset=utf-8" },
  "/services.js": { file: "services.js", type: "text/javascript; charset=utf-8" },
  "/fleet.js": { file: "fleet.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};
/**
 * Reads one of the page's files: from the executable itself when lvsq runs as the packaged single executable
 * (the .deb's /usr/bin/lvsq carries them as SEA assets, `web/<file>`), else from `web/` beside `dist/` in the
 * package or beside the bundle when lvsq runs as one file (cli/dist). Resolved on first use, not at import:
 * the packaged CommonJS build has no `import.meta.url`.
 */
async function readWebFile(file: string): Promise<Buffer> {
  if (isSea()) return Buffer.from(getAsset(`web/${file}`));
  const webDir =
    [new URL("../web/", import.meta.url), new URL("./web/", import.meta.url)].find((dir) =>
      existsSync(new URL("index.html", dir)),
    ) ?? new URL("../web/", import.meta.url);
  return readFile(new URL(file, webDir));
}
/** Coalesce bursts of changes (a round of votes is one message per probe per service) into one push. */
const PUSH_DELAY_MS = 100;
/** Pushed even without changes, so ages and stale marks move and proxies keep the stream open. */
const REFRESH_MS = 2_000;

/**
 * Serves the live status page: `/` (HTML+JS+CSS from the package), `/snapshot.json` (one snapshot) and
 * `/events` (server-sent events: a `snapshot` event with the full FleetSnapshot JSON on every change,
 * at most every 100 ms, and at least every 2 s); with `options.auth`, only to requests that log in.
 */
export async function serveStatusPage(
  hostPort: string,
  model: FleetModel,
  logger: Logger,
  options: { now?: () => number; auth?: HttpAuth } = {},
): Promise<StatusPageServer> {
  const address = parseHostPort(hostPort);
  if ("error" in address) throw new Error(`--web: ${address.error}`);
  const now = options.now ?? Date.now;
  const clients = new Set<ServerResponse>();
  let pending: NodeJS.Timeout | undefined;

  const push = () => {
    pending = undefined;
    if (clients.size === 0) return;
    const frame = `event: snapshot\ndata: ${JSON.stringify(model.snapshot(now()))}\n\n`;
    for (const client of clients) client.write(frame);
  };
  const schedulePush = () => {
    if (!pending && clients.size > 0) pending = setTimeout(push, PUSH_DELAY_MS);
  };
  const unsubscribe = model.onChange(schedulePush);
  const refresh = setInterval(push, REFRESH_MS);

  const handler = requireAuth(options.auth, (req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/events") {
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        connection: "keep-alive",
      });
      res.write(`retry: 1000\nevent: snapshot\ndata: ${JSON.stringify(model.snapshot(now()))}\n\n`);
      clients.add(res);
      req.on("close", () => clients.delete(res));
      return;
    }
    if (path === "/snapshot.json") {
      res
        .writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
        .end(JSON.stringify(model.snapshot(now())));
      return;
    }
    const asset = ASSETS[path];
    if (!asset) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    readWebFile(asset.file).then(
      (body) => res.writeHead(200, { "content-type": asset.type, "cache-control": "no-cache" }).end(body),
      (error: unknown) => {
        logger.error({ err: error, file: asset.file }, "status page: asset missing from the package");
        res.writeHead(500, { "content-type": "text/plain" }).end("asset missing\n");
      },
    );
  });
  const server = createServer(handler);
  const bound = await listenHttp(server, address);
  const url = `${bound.baseUrl}/`;
  logger.info({ url, auth: options.auth !== undefined }, "status page: serving");
  warnIfExposed(address.host, options.auth, logger, "status page");
  return {
    port: bound.port,
    url,
    close: () => {
      unsubscribe();
      clearInterval(refresh);
      if (pending) clearTimeout(pending);
      for (const client of clients) client.end();
      clients.clear();
      return bound.close();
    },
  };
}
