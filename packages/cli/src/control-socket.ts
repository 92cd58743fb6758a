import { mkdirSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { dirname } from "node:path";

/**
 * Standalone mode has no NATS, so `lvsq run` answers `lvsq explain` on a local unix socket instead
 * (root-only by the directory's permissions). Default /run/lvsq/<cluster>.sock; LVSQ_CONTROL_SOCKET overrides.
 */
export function controlSocketPath(cluster: string, env = process.env): string {
  return env.LVSQ_CONTROL_SOCKET ?? `/run/lvsq/${cluster}.sock`;
}

/** POST /admin: an admin record in, what it replaced out (`lvsq admin` against `lvsq run`). */
export type ControlAdmin = (record: unknown) => unknown;

export function serveControl(
  path: string,
  explain: (service: string, rs: string | undefined) => unknown,
  admin?: ControlAdmin,
): Promise<Server> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  rmSync(path, { force: true });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://local");
    if (url.pathname === "/admin" && req.method === "POST" && admin) {
      readBody(req, 64 * 1024)
        .then((body) => {
          const answer = admin(JSON.parse(body));
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer ?? {}));
        })
        .catch((error: unknown) => {
          res
            .writeHead(400, { "content-type": "application/json" })
            .end(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
        });
      return;
    }
    try {
      if (url.pathname !== "/explain") throw new Error(`unknown path ${url.pathname}`);
      const answer = explain(url.searchParams.get("service") ?? "", url.searchParams.get("rs") ?? undefined);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
    } catch (error) {
      res
        .writeHead(404, { "content-type": "application/json" })
        .end(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve(server));
  });
}

function readBody(req: import("node:http").IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
      if (body.length > limit) req.destroy(new Error(`request over ${limit} bytes`));
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

/** Sends an admin record to a running `lvsq run`; rejects with `code: "ENOENT"` when none listens. */
export function sendControlAdmin(path: string, record: unknown, timeoutMs = 2000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: path,
        path: "/admin",
        method: "POST",
        timeout: timeoutMs,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => {
          try {
            const answer = JSON.parse(body) as { error?: string };
            if (res.statusCode !== 200) reject(new Error(answer.error ?? `HTTP ${res.statusCode}`));
            else resolve(answer);
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer from ${path} within ${timeoutMs} ms`)));
    req.on("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "ECONNREFUSED" ? Object.assign(error, { code: "ENOENT" }) : error),
    );
    req.end(JSON.stringify(record));
  });
}

export function askControl(
  path: string,
  service: string,
  rs: string | undefined,
  timeoutMs = 2000,
): Promise<unknown> {
  const query = new URLSearchParams({ service, ...(rs ? { rs } : {}) });
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: path, path: `/explain?${query}`, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => {
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${path} within ${timeoutMs} ms`)));
    req.on("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "ENOENT" || error.code === "ECONNREFUSED"
          ? new Error(
              `no lvsq run is listening on ${path} (is it running? LVSQ_CONTROL_SOCKET set the same?)`,
            )
          : error,
      ),
    );
    req.end();
  });
}
