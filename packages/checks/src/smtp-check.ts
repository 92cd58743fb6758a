import { connect, type Socket } from "node:net";
import { hostname } from "node:os";
import { connect as tlsConnect } from "node:tls";
import type { SmtpCheckConfig } from "@lvsq/config";
import { type CheckRun, socketVerdict, withDeadline } from "./deadline.js";
import { type FileCache, tlsOptions } from "./files.js";
import { type CheckResult, makeResult } from "./result.js";
import { type CheckTarget, splitEndpoint } from "./target.js";

/** A reply longer than this is not SMTP. */
const MAX_REPLY_BYTES = 16 * 1024;

type Reply = { code: number; lines: string[] };

/**
 * The SMTP dialogue keepalived's SMTP_CHECK has, with ESMTP: banner `220`, `EHLO` → `250` (a server that
 * rejects EHLO with 5xx gets `HELO`), optionally `STARTTLS` → `220`, the TLS handshake (verified like https),
 * `EHLO` again → `250`, then `QUIT`. Up at the last `250`; the reason names every step that passed.
 */
export function runSmtpCheck(
  check: SmtpCheckConfig,
  target: CheckTarget,
  files: FileCache,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const endpoint = splitEndpoint(target.address, check.port);
  if ("error" in endpoint) return Promise.resolve(makeResult("abstain", performance.now(), endpoint.error));
  const helo = check.heloName ?? hostname();
  return withDeadline(check.timeoutMs, signal, async (run) => {
    const tls = check.starttls ? await tlsOptions(files, check) : undefined;
    if (tls && "error" in tls) return run.finish("abstain", tls.error);
    let socket: Socket = connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    run.onFinish(() => socket.destroy());
    const replies = new ReplyReader(run);
    replies.attach(socket);
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    run.phase = "banner";
    const banner = await replies.next();
    if (banner.code !== 220)
      return run.finish("down", `banner ${banner.code}, expected 220`, detailOf(banner));
    const steps = ["banner 220"];
    let hello = await greet(socket, replies, run, helo, steps);
    if (!hello) return;
    if (tls) {
      if (!hello.lines.slice(1).some((line) => /^starttls\b/i.test(line))) {
        return run.finish("down", "STARTTLS not offered", detailOf(hello));
      }
      run.phase = "starttls";
      socket.write("STARTTLS\r\n");
      const ready = await replies.next();
      if (ready.code !== 220)
        return run.finish("down", `STARTTLS ${ready.code}, expected 220`, detailOf(ready));
      run.phase = "tls";
      replies.detach(socket);
      const secure = tlsConnect({ ...tls, socket });
      socket = secure;
      run.onFinish(() => secure.destroy());
      replies.attach(secure);
      await new Promise<void>((resolve) => secure.once("secureConnect", resolve));
      steps.push(`STARTTLS ${secure.getProtocol() ?? "ok"}`);
      hello = await greet(secure, replies, run, helo, steps);
      if (!hello) return;
    }
    socket.write("QUIT\r\n");
    run.finish("up", steps.join(", "));
  });
}

async function greet(
  socket: Socket,
  replies: ReplyReader,
  run: CheckRun,
  helo: string,
  steps: string[],
): Promise<Reply | undefined> {
  run.phase = "EHLO";
  socket.write(`EHLO ${helo}\r\n`);
  let reply = await replies.next();
  let verb = "EHLO";
  if (reply.code >= 500 && reply.code < 600) {
    run.phase = "HELO";
    verb = "HELO";
    socket.write(`HELO ${helo}\r\n`);
    reply = await replies.next();
  }
  if (reply.code !== 250) {
    run.finish("down", `${verb} ${reply.code}, expected 250`, detailOf(reply));
    return undefined;
  }
  steps.push(`${verb} 250`);
  return reply;
}

function detailOf(reply: Reply): { detail: string } {
  return { detail: reply.lines.join("\n") };
}

/**
 * Reads SMTP replies (`250-first`, `250 last`) from whichever socket is attached. A socket that closes,
 * fails or sends garbage finishes the check as down; `next()` then never resolves (the check is over).
 */
class ReplyReader {
  #buffer = "";
  #lines: string[] = [];
  #waiting: ((reply: Reply) => void) | undefined;
  readonly #ready: Reply[] = [];
  readonly #onData = (chunk: Buffer): void => this.#feed(chunk.toString("latin1"));
  readonly #onEnd = (): void => this.run.finish("down", `closed in ${this.run.phase}`, this.#detail());
  readonly #onError = (error: Error): void => this.run.finish(...socketVerdict(error, this.run.phase));

  constructor(private readonly run: CheckRun) {}

  attach(socket: Socket): void {
    socket.on("data", this.#onData).on("end", this.#onEnd).on("error", this.#onError);
  }

  detach(socket: Socket): void {
    socket.off("data", this.#onData).off("end", this.#onEnd).off("error", this.#onError);
  }

  next(): Promise<Reply> {
    const ready = this.#ready.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  #detail(): { detail: string } | undefined {
    const text = [...this.#lines, this.#buffer].join("\n").trim();
    return text === "" ? undefined : { detail: text };
  }

  #feed(text: string): undefined {
    this.#buffer += text;
    if (this.#buffer.length > MAX_REPLY_BYTES)
      return this.run.finish("down", `reply too long in ${this.run.phase}`);
    for (let end = this.#buffer.indexOf("\n"); end >= 0; end = this.#buffer.indexOf("\n")) {
      const line = this.#buffer.slice(0, end).replace(/\r$/, "");
      this.#buffer = this.#buffer.slice(end + 1);
      const match = /^(\d{3})([ -]?)(.*)$/.exec(line);
      if (!match) return this.run.finish("down", `not an SMTP reply in ${this.run.phase}`, { detail: line });
      this.#lines.push(line);
      if (match[2] === "-") continue;
      const reply = { code: Number(match[1]), lines: this.#lines.map((l) => l.slice(4)) };
      this.#lines = [];
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) waiting(reply);
      else this.#ready.push(reply);
    }
    return undefined;
  }
}
