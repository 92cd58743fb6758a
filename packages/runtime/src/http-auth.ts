import { createHash, timingSafeEqual } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { Logger } from "pino";

/**
 * Access to lvsq's HTTP endpoints (`--metrics`, `lvsq status --web`): an auth file lists who may read, one
 * credential a line (`#` comments and blank lines ignored):
 *
 *   bearer 3f1c…            a token, sent as `Authorization: Bearer 3f1c…` (Prometheus: `authorization`)
 *   basic ops:s3cret…       a user and password, sent as HTTP basic auth (a browser asks for them)
 *   3f1c…                   a file of one bare line is a token: the same file Prometheus'
 *                           `authorization.credentials_file` reads
 *
 * The file is read at start (a bad one stops the agent with its line number) and again whenever it changes,
 * so a token is rotated without a restart; a changed file that does not parse is refused and the old
 * credentials kept. Comparisons are constant-time (on SHA-256 digests, so lengths do not leak either).
 */
export type HttpCredential =
  | { type: "bearer"; token: string }
  | { type: "basic"; user: string; password: string };

export class HttpAuthFileError extends Error {
  override name = "HttpAuthFileError";
}

const MIN_TOKEN = 16;
const MIN_PASSWORD = 12;
const HINT = "make one with: openssl rand -hex 32";

/** Parses an auth file's text; throws HttpAuthFileError naming `file:line` and what was expected. */
export function parseHttpAuth(text: string, file: string): HttpCredential[] {
  const lines = text.split("\n").map((line, i) => ({ n: i + 1, text: line.trim() }));
  const used = lines.filter((l) => l.text !== "" && !l.text.startsWith("#"));
  if (used.length === 0)
    throw new HttpAuthFileError(
      `${file}: no credentials; expected \`bearer TOKEN\` or \`basic USER:PASSWORD\``,
    );
  return used.map(({ n, text: line }) => {
    const where = `${file}:${n}`;
    const [first = "", ...rest] = line.split(/\s+/);
    const scheme = first.toLowerCase();
    if (rest.length === 0 && used.length === 1 && scheme !== "bearer" && scheme !== "basic") {
      return bearer(first, where);
    }
    if (scheme === "bearer" && rest.length === 1) return bearer(rest[0]!, where);
    if (scheme === "basic" && rest.length === 1) {
      const colon = rest[0]!.indexOf(":");
      const user = rest[0]!.slice(0, colon);
      const password = rest[0]!.slice(colon + 1);
      if (colon < 1) throw new HttpAuthFileError(`${where}: expected \`basic USER:PASSWORD\``);
      if (password.length < MIN_PASSWORD) {
        throw new HttpAuthFileError(
          `${where}: the password is shorter than ${MIN_PASSWORD} characters; ${HINT}`,
        );
      }
      return { type: "basic", user, password };
    }
    throw new HttpAuthFileError(
      `${where}: expected \`bearer TOKEN\` or \`basic USER:PASSWORD\` (or a file of one bare token)`,
    );
  });
}

function bearer(token: string, where: string): HttpCredential {
  if (token.length < MIN_TOKEN) {
    throw new HttpAuthFileError(`${where}: the token is shorter than ${MIN_TOKEN} characters; ${HINT}`);
  }
  return { type: "bearer", token };
}

const digest = (text: string) => createHash("sha256").update(text).digest();
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

/** Whether an `Authorization` header matches one of the credentials. */
export function authorizes(credentials: readonly HttpCredential[], header: string | undefined): boolean {
  const match = /^(\S+)\s+(\S+)$/.exec(header?.trim() ?? "");
  if (!match) return false;
  const scheme = match[1]!.toLowerCase();
  const value = match[2]!;
  let ok = false;
  if (scheme === "bearer") {
    for (const c of credentials) if (c.type === "bearer" && same(c.token, value)) ok = true;
  } else if (scheme === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    for (const c of credentials)
      if (c.type === "basic" && same(`${c.user}:${c.password}`, decoded)) ok = true;
  }
  return ok;
}

/** An auth file, re-read when its modification time changes. */
export class HttpAuth {
  private constructor(
    readonly file: string,
    private credentials: HttpCredential[],
    private mtimeMs: number,
    private readonly logger: Logger,
  ) {}

  /** Reads and parses the file; rejects with an error naming the file (and line) when it cannot be used. */
  static async load(file: string, logger: Logger): Promise<HttpAuth> {
    const [text, info] = await Promise.all([readAuthFile(file), stat(file)]);
    return new HttpAuth(file, parseHttpAuth(text, file), info.mtimeMs, logger);
  }

  /** Asks for a browser login when the file has a basic credential, else names the bearer scheme. */
  get challenge(): string {
    return this.credentials.some((c) => c.type === "basic")
      ? 'Basic realm="lvsq", charset="UTF-8"'
      : 'Bearer realm="lvsq"';
  }

  async allows(header: string | undefined): Promise<boolean> {
    await this.refresh();
    return authorizes(this.credentials, header);
  }

  private async refresh(): Promise<void> {
    try {
      const info = await stat(this.file);
      if (info.mtimeMs === this.mtimeMs) return;
      this.mtimeMs = info.mtimeMs;
      this.credentials = parseHttpAuth(await readAuthFile(this.file), this.file);
      this.logger.info({ file: this.file }, "http auth: credentials file changed, re-read");
    } catch (error) {
      this.logger.error(
        { file: this.file, err: error instanceof Error ? error.message : String(error) },
        "http auth: credentials file changed but cannot be used; keeping the previous credentials",
      );
    }
  }
}

async function readAuthFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new HttpAuthFileError(
      `${file}: cannot read the auth file: ${code === "ENOENT" ? "no such file" : code}`,
      {
        cause,
      },
    );
  }
}

/** Wraps a request handler: without `auth` it is the handler; with it, a request must carry a credential. */
export function requireAuth(auth: HttpAuth | undefined, handler: RequestListener): RequestListener {
  if (!auth) return handler;
  return (req: IncomingMessage, res: ServerResponse) => {
    auth.allows(req.headers.authorization).then(
      (ok) => {
        if (ok) return handler(req, res);
        res
          .writeHead(401, {
            "www-authenticate": auth.challenge,
            "content-type": "text/plain",
            "cache-control": "no-store",
          })
          .end("authentication required\n");
      },
      () => res.writeHead(500, { "content-type": "text/plain" }).end("auth check failed\n"),
    );
  };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Logs a warning when an endpoint without authentication listens beyond loopback. */
export function warnIfExposed(host: string, auth: HttpAuth | undefined, logger: Logger, what: string): void {
  if (auth || LOOPBACK.test(host)) return;
  logger.warn(
    { host, endpoint: what },
    `${what}: listening on ${host} without authentication; anyone who can reach it can read it (see --help for the auth file)`,
  );
}
