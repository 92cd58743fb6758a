import { errnoName, IpvsUnavailableError } from "./nl-errors.js";
import {
  decodeError,
  decodeMessages,
  encodeMessage,
  hostIsLittleEndian,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  type NlMessage,
} from "./nl-wire.js";

/** The datagram socket under the codec: the `netlink` package's RawNetlinkSocket, or a fake in tests. */
export interface NetlinkTransport {
  readonly port: number;
  readonly recvBufferSize: number;
  send(datagram: Buffer[], done: (error?: Error) => void): void;
  onMessage(handler: (datagram: Buffer) => void): void;
  onError(handler: (error: Error) => void): void;
  close(): void;
}

const NETLINK_GENERIC = 16;
/** Asked for; the kernel caps it at 2 × net.core.rmem_max (425,984 bytes on a default kernel). */
const RECV_BUFFER_BYTES = 1 << 20;

/** Opens an AF_NETLINK socket with the `netlink` package (its N-API binding ships prebuilt in the npm tarball). */
export async function openRawTransport(): Promise<NetlinkTransport> {
  if (!hostIsLittleEndian()) throw new IpvsUnavailableError("the netlink driver needs a little-endian host");
  // Only the raw socket layer: the package's index also loads ~550 kB of generated rtnetlink/nl80211
  // tables (3 s of parsing in a QEMU/TCG guest), none of it used here.
  let lib: typeof import("netlink/dist/raw.js");
  try {
    const loaded = (await import("netlink/dist/raw.js")) as typeof import("netlink/dist/raw.js") & {
      default?: typeof import("netlink/dist/raw.js");
    };
    lib = loaded.default ?? loaded;
  } catch (cause) {
    throw new IpvsUnavailableError(`cannot load the netlink socket library (npm package netlink): ${cause}`, {
      cause,
    });
  }
  let socket: InstanceType<typeof lib.RawNetlinkSocket>;
  try {
    socket = new lib.RawNetlinkSocket(NETLINK_GENERIC, {
      recvBufferSize: RECV_BUFFER_BYTES,
      sendBufferSize: 0,
    });
  } catch (cause) {
    throw new IpvsUnavailableError(`cannot open a generic netlink socket: ${(cause as Error).message}`, {
      cause,
    });
  }
  // The socket must not keep a finished process alive; pending requests hold a timer that does.
  socket.unref();
  return {
    port: socket.address().port,
    recvBufferSize: socket.getRecvBufferSize(),
    send: (datagram, done) => socket.send(datagram, {}, (error) => done(error)),
    onMessage: (handler) => socket.on("message", (datagram) => handler(datagram)),
    onError: (handler) => socket.on("error", handler),
    close: () => socket.close(),
  };
}

/** What one request came back with: the kernel's errno (0 = ACK/DONE) and its replies, or why none came. */
export type Answer = { errno: number; replies: NlMessage[] } | { lost: string };
type Pending = { replies: NlMessage[]; done: (answer: Answer) => void };
type Outgoing = { bytes: Buffer; seq: number };

export type GenlSocketOptions = {
  /** Fail every request still waiting when the kernel has answered nothing for this long. */
  timeoutMs: number;
  /** Sees every datagram, both ways (fixture capture, debugging). */
  tap?: (direction: "out" | "in", datagram: Buffer) => void;
};

/**
 * Request/answer bookkeeping over one netlink socket. Every write carries NLM_F_ACK, so each gets its own
 * answer, matched by sequence number; writes are pipelined (many in flight, several per datagram) but
 * bounded by `window` so the kernel's answers cannot overflow the receive buffer (an overflow drops
 * answers: ENOBUFS). Dumps run one at a time (the kernel allows one per socket). A message nobody waits
 * for (a late answer after a deadline) or that does not parse is dropped and counted.
 */
export class GenlSocket {
  readonly window: number;
  dropped = 0;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly pending = new Map<number, Pending>();
  private outbox: Outgoing[] = [];
  private flushQueued = false;
  private lastAnswerAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private dumps: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly transport: NetlinkTransport,
    private readonly options: GenlSocketOptions,
  ) {
    // About 1.3 kB of receive buffer per answer in flight (skb truesize of a small NLMSG_ERROR), with room.
    this.window = Math.max(8, Math.min(256, Math.floor(transport.recvBufferSize / 2048)));
    transport.onMessage((datagram) => this.receive(datagram));
    transport.onError((error) => this.failAll(`socket error: ${error.message}`));
  }

  /** One request with NLM_F_ACK; resolves with its answer (never rejects). */
  request(type: number, payload: Buffer, flags = 0): Promise<Answer> {
    return new Promise((done) => this.enqueue(type, NLM_F_REQUEST | NLM_F_ACK | flags, payload, done));
  }

  /** Many requests, answered in order of `requests`; at most `window` in flight. */
  batch(requests: readonly { type: number; payload: Buffer }[]): Promise<Answer[]> {
    const answers = new Array<Answer>(requests.length);
    if (requests.length === 0) return Promise.resolve(answers);
    return new Promise((resolve) => {
      let next = 0;
      let inFlight = 0;
      let answered = 0;
      const pump = () => {
        while (next < requests.length && inFlight < this.window) {
          const index = next++;
          const request = requests[index]!;
          inFlight++;
          this.enqueue(request.type, NLM_F_REQUEST | NLM_F_ACK, request.payload, (answer) => {
            answers[index] = answer;
            inFlight--;
            if (++answered === requests.length) resolve(answers);
            // Refill in halves: one datagram of window/2 messages rather than one per answer.
            else if (inFlight <= this.window / 2) pump();
          });
        }
      };
      pump();
    });
  }

  /** A dump (NLM_F_DUMP): every message until NLMSG_DONE. Dumps wait for each other. */
  dump(type: number, payload: Buffer): Promise<Answer> {
    const run = () =>
      new Promise<Answer>((done) => this.enqueue(type, NLM_F_REQUEST | NLM_F_DUMP, payload, done));
    const result = this.dumps.then(run, run);
    this.dumps = result;
    return result;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll("socket closed");
    this.transport.close();
  }

  private enqueue(type: number, flags: number, payload: Buffer, done: (answer: Answer) => void): void {
    if (this.closed) {
      done({ lost: "socket closed" });
      return;
    }
    this.seq = (this.seq + 1) >>> 0 || 1;
    const seq = this.seq;
    this.pending.set(seq, { replies: [], done });
    this.outbox.push({ bytes: encodeMessage({ type, flags, seq, pid: this.transport.port, payload }), seq });
    if (this.pending.size === 1) this.lastAnswerAt = performance.now();
    this.arm();
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  /**
   * Sends what was queued in this tick, several messages per datagram: at most 64 and 16 kB, because the
   * kernel runs a datagram's requests inside the sendmsg that carries it, on this (the event loop's) thread.
   */
  private flush(): void {
    this.flushQueued = false;
    const queued = this.outbox;
    this.outbox = [];
    let at = 0;
    while (at < queued.length) {
      const chunk: Outgoing[] = [];
      let bytes = 0;
      while (
        at < queued.length &&
        (chunk.length === 0 || (chunk.length < 64 && bytes + queued[at]!.bytes.length <= 16_384))
      ) {
        bytes += queued[at]!.bytes.length;
        chunk.push(queued[at++]!);
      }
      const datagram = chunk.map((m) => m.bytes);
      this.options.tap?.("out", Buffer.concat(datagram));
      this.transport.send(datagram, (error) => {
        if (error === undefined) return;
        for (const m of chunk) this.finish(m.seq, { lost: `send failed: ${error.message}` });
      });
    }
  }

  private receive(datagram: Buffer): void {
    this.options.tap?.("in", datagram);
    this.lastAnswerAt = performance.now();
    let messages: NlMessage[];
    try {
      messages = decodeMessages(datagram);
    } catch {
      this.dropped++;
      return;
    }
    for (const message of messages) {
      const pending = this.pending.get(message.seq);
      if (pending === undefined) {
        this.dropped++;
        continue;
      }
      if (message.type === NLMSG_ERROR) {
        try {
          this.finish(message.seq, { errno: decodeError(message).errno, replies: pending.replies });
        } catch {
          this.dropped++;
        }
      } else if (message.type === NLMSG_DONE) {
        const errno = message.payload.length >= 4 ? -message.payload.readInt32LE(0) : 0;
        this.finish(message.seq, { errno, replies: pending.replies });
      } else {
        pending.replies.push(message);
      }
    }
  }

  private finish(seq: number, answer: Answer): void {
    const pending = this.pending.get(seq);
    if (pending === undefined) return;
    this.pending.delete(seq);
    if (this.pending.size === 0 && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    pending.done(answer);
  }

  private failAll(reason: string): void {
    for (const seq of [...this.pending.keys()]) this.finish(seq, { lost: reason });
  }

  /** One timer for the socket: it fires when the kernel has been silent for timeoutMs with work pending. */
  private arm(): void {
    if (this.timer !== undefined) return;
    const check = () => {
      this.timer = undefined;
      if (this.pending.size === 0) return;
      const silentMs = performance.now() - this.lastAnswerAt;
      if (silentMs >= this.options.timeoutMs) {
        this.failAll(`no answer from the kernel within ${this.options.timeoutMs} ms`);
        return;
      }
      this.timer = setTimeout(check, this.options.timeoutMs - silentMs);
    };
    this.timer = setTimeout(check, this.options.timeoutMs);
  }
}

/** An answer as an error text, or undefined for success. */
export function answerError(answer: Answer): string | undefined {
  if ("lost" in answer) return answer.lost;
  return answer.errno === 0 ? undefined : errnoName(answer.errno);
}
