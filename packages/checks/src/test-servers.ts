// Helpers for this package's tests: real servers on 127.0.0.1, port 0, each closed by `closeAll()`.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { type Socket, createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CheckConfig, HttpCheckConfig } from "@lvsq/config";

type Closable = Server | TcpServer | { close(callback: () => void): void };

export class TestServers {
  readonly #servers: Closable[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #dirs: string[] = [];

  async http(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    return this.#listen(createServer(handler));
  }

  async https(
    tls: { key: Buffer; cert: Buffer },
    handler: (req: IncomingMessage, res: ServerResponse) => void,
  ): Promise<string> {
    return this.#listen(createHttpsServer(tls, handler));
  }

  async tcp(onConnection: (socket: Socket) => void): Promise<string> {
    return this.#listen(createTcpServer(onConnection));
  }

  /** An address where nothing listens: a port that was just bound and released. */
  async refusingAddress(): Promise<string> {
    const server = createTcpServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return `127.0.0.1:${port}`;
  }

  /** Registers something else the test started (a UDP socket, a TLS server), closed by `closeAll()`. */
  track(closable: Closable): void {
    this.#servers.push(closable);
  }

  /** Listens on 127.0.0.1 port 0 and returns `127.0.0.1:port`; its sockets are destroyed by `closeAll()`. */
  listen(server: Server | TcpServer): Promise<string> {
    return this.#listen(server);
  }

  tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), "lvsq-checks-"));
    this.#dirs.push(dir);
    return dir;
  }

  async closeAll(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    const closing = this.#servers.map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    this.#servers.length = 0;
    await Promise.all(closing);
    for (const dir of this.#dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }

  async #listen(server: Server | TcpServer): Promise<string> {
    this.#servers.push(server);
    // Track every socket, so servers that stall on purpose can still be closed.
    server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    server.on("secureConnection", (socket: Socket) => this.#sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    return `127.0.0.1:${port}`;
  }
}

/** A self-signed certificate for `name` (default `lvsq.test`), made with openssl at test time. */
export function makeSelfSignedCert(
  dir: string,
  options: { days?: number; name?: string } = {},
): { key: Buffer; cert: Buffer; certPath: string; keyPath: string } {
  const name = options.name ?? "lvsq.test";
  const keyPath = join(dir, `${name}-${options.days ?? 2}-key.pem`);
  const certPath = join(dir, `${name}-${options.days ?? 2}-cert.pem`);
  try {
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        .concat([
          "-keyout",
          keyPath,
          "-out",
          certPath,
          "-days",
          String(options.days ?? 2),
          "-subj",
          `/CN=${name}`,
        ])
        .concat(["-addext", `subjectAltName=DNS:${name}`]),
      { stdio: "pipe" },
    );
  } catch (error) {
    throw new Error(`openssl could not make a test certificate (apt-get install -y openssl): ${error}`);
  }
  return { key: readFileSync(keyPath), cert: readFileSync(certPath), certPath, keyPath };
}

const TIMING = { intervalMs: 2000, timeoutMs: 1000, rise: 2, fall: 3 };

export function httpCheck(overrides: Partial<HttpCheckConfig> = {}): HttpCheckConfig {
  return {
    type: "http",
    ...TIMING,
    path: "/",
    method: "GET",
    headers: {},
    expectStatus: [[200, 399]],
    tlsVerify: true,
    ...overrides,
  };
}

export function tcpCheck(overrides: Partial<Extract<CheckConfig, { type: "tcp" }>> = {}): CheckConfig {
  return { type: "tcp", ...TIMING, ...overrides };
}

const TYPED_DEFAULTS = {
  dns: { query: "www.lvsq.test", queryType: "A", transport: "udp", expectRcode: ["NOERROR"], recurse: true },
  udp: { requireReply: true },
  icmp: {},
  smtp: { starttls: false, tlsVerify: true },
  tls: { tlsVerify: true },
  agent: {},
} as const;

/** A resolved check of one of the newer types, with the config's defaults and `overrides` on top. */
export function typedCheck<T extends keyof typeof TYPED_DEFAULTS>(
  type: T,
  overrides: Partial<Extract<CheckConfig, { type: T }>> = {},
): Extract<CheckConfig, { type: T }> {
  return { type, ...TIMING, ...TYPED_DEFAULTS[type], ...overrides } as unknown as Extract<
    CheckConfig,
    { type: T }
  >;
}

export function execCheck(
  command: string[],
  overrides: Partial<Extract<CheckConfig, { type: "exec" }>> = {},
) {
  return { type: "exec" as const, ...TIMING, command, env: {}, ...overrides };
}

/** A port nothing holds on `host` right now (bound once, then released). */
export async function freePort(host: string): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
