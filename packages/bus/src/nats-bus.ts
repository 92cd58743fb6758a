import { LvsqError } from "@lvsq/protocol";
import {
  connect,
  type NatsConnection,
  type NodeConnectionOptions,
  NoRespondersError,
  PermissionViolationError,
  RequestError,
  type Subscription,
  TimeoutError,
} from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { ZodType } from "zod";
import { busUnavailable } from "./errors.js";
import { decodeJson, encodeJson, errorText, Inbound } from "./inbound.js";
import type { NatsBusOptions } from "./nats-connect.js";
import { NatsKv } from "./nats-kv.js";
import type {
  Bus,
  BusStats,
  BusStatus,
  BusSubscription,
  Kv,
  KvBucketOptions,
  SubscribeOptions,
} from "./types.js";

/** Pause between first-connect attempts (plus up to as much jitter); reconnects after that are nats.js's. */
const DIAL_RETRY_MS = 1_000;

type Registered = {
  subject: string;
  queue: string | undefined;
  callback: (
    error: Error | null,
    msg: { subject: string; reply?: string; string(): string; respond(data: string): boolean },
  ) => void;
  live: Subscription | undefined;
};

export class NatsBus implements Bus {
  readonly name: string;
  readonly logger: Logger;
  readonly kvTimeoutMs: number;
  private readonly replicas: number | undefined;
  private readonly inbound: Inbound;
  private nc: NatsConnection | undefined;
  private connected = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly registered = new Set<Registered>();
  private readonly statusListeners = new Set<(status: BusStatus) => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private readonly firstConnect: Promise<void>;
  private markFirstConnect: () => void = () => {};

  constructor(
    options: NatsBusOptions,
    private readonly connectionOptions: NodeConnectionOptions,
  ) {
    this.name = options.name;
    this.logger = options.logger;
    this.kvTimeoutMs = options.kvTimeoutMs ?? 2_000;
    this.replicas = options.replicas;
    this.inbound = new Inbound(options.logger);
    this.firstConnect = new Promise((resolve) => {
      this.markFirstConnect = resolve;
    });
    void this.dial(1);
  }

  async waitFirstConnect(waitMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
    });
    await Promise.race([this.firstConnect, timeout]);
    clearTimeout(timer);
    if (!this.connected) {
      this.logger.warn(
        { servers: this.connectionOptions.servers },
        "bus: NATS not reachable yet, still trying",
      );
      this.emit({ type: "reconnecting" });
    }
  }

  connection(): NatsConnection | undefined {
    return this.connected ? this.nc : undefined;
  }

  /** KV replicas: the configured number, else 3 on a cluster of 3 or more nodes, else 1. */
  kvReplicas(): { replicas: number; configured: boolean } {
    if (this.replicas !== undefined) return { replicas: this.replicas, configured: true };
    const servers = [this.connectionOptions.servers ?? []].flat().length;
    const announced = this.nc?.info?.connect_urls?.length ?? 0;
    return { replicas: Math.max(servers, announced) >= 3 ? 3 : 1, configured: false };
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  isConnected(): boolean {
    return this.connected;
  }

  publish(subject: string, payload: unknown): boolean {
    if (!this.connected || !this.nc) {
      this.inbound.counters.publishDropped++;
      return false;
    }
    try {
      this.nc.publish(subject, encodeJson(payload));
      this.inbound.counters.published++;
      return true;
    } catch (error) {
      this.inbound.counters.publishDropped++;
      this.logger.warn({ subject, err: errorText(error) }, "bus: publish failed");
      return false;
    }
  }

  subscribe<T>(
    subject: string,
    schema: ZodType<T>,
    handler: (message: T, subject: string) => void | Promise<void>,
    options: SubscribeOptions = {},
  ): BusSubscription {
    return this.register(subject, options.queue, (error, msg) => {
      if (error) {
        this.logger.error({ subject, err: errorText(error) }, "bus: subscription failed");
        return;
      }
      this.inbound.deliver(msg.subject, msg.string(), schema, handler);
    });
  }

  serve(
    subject: string,
    handler: (request: unknown, subject: string) => unknown,
    options: SubscribeOptions = {},
  ): BusSubscription {
    return this.register(subject, options.queue, (error, msg) => {
      if (error || !msg.reply) return;
      Promise.resolve()
        .then(() => handler(decodeJson(msg.string()), msg.subject))
        .catch((failure: unknown) => ({ error: errorText(failure) }))
        .then((answer) => {
          try {
            msg.respond(encodeJson(answer ?? null));
          } catch (failure) {
            this.logger.warn({ subject, err: errorText(failure) }, "bus: reply failed");
          }
        });
    });
  }

  async request(subject: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    const nc = this.connection();
    if (!nc) throw busUnavailable(`request ${subject}`);
    try {
      const reply = await nc.request(subject, encodeJson(payload), { timeout: timeoutMs });
      return decodeJson(reply.string());
    } catch (error) {
      const noResponders =
        error instanceof NoRespondersError ||
        (error instanceof RequestError && error.isNoResponders()) ||
        (error instanceof Error && error.cause instanceof NoRespondersError);
      if (noResponders)
        throw new LvsqError("not_found", `request ${subject}: no responders`, { cause: error });
      if (error instanceof TimeoutError || (error instanceof Error && error.cause instanceof TimeoutError)) {
        throw new LvsqError("bus_timeout", `request ${subject}: no reply within ${timeoutMs} ms`, {
          cause: error,
        });
      }
      throw busUnavailable(`request ${subject}`, error);
    }
  }

  async kv(bucket: string, options: KvBucketOptions = {}): Promise<Kv> {
    const kv = new NatsKv(this, bucket, options);
    await kv.guard("open", async () => undefined);
    return kv;
  }

  onStatus(listener: (status: BusStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  stats(): BusStats {
    return this.inbound.snapshot();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.connected = false;
    this.registered.clear();
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
    this.emit({ type: "closed" });
  }

  private register(
    subject: string,
    queue: string | undefined,
    callback: Registered["callback"],
  ): BusSubscription {
    const entry: Registered = { subject, queue, callback, live: undefined };
    this.registered.add(entry);
    if (this.nc && !this.nc.isClosed()) this.attach(this.nc, entry);
    return {
      subject,
      unsubscribe: () => {
        this.registered.delete(entry);
        entry.live?.unsubscribe();
        entry.live = undefined;
      },
    };
  }

  private attach(nc: NatsConnection, entry: Registered): void {
    entry.live = nc.subscribe(entry.subject, {
      ...(entry.queue ? { queue: entry.queue } : {}),
      callback: entry.callback,
    });
  }

  /** First connection (and again if nats.js ever gives up, e.g. after repeated auth errors): retry forever. */
  private async dial(attempt: number): Promise<void> {
    if (this.closed) return;
    try {
      const nc = await connect(this.connectionOptions);
      if (this.closed) {
        await nc.close();
        return;
      }
      this.adopt(nc);
    } catch (error) {
      const fields = { attempt, servers: this.connectionOptions.servers, err: errorText(error) };
      if (attempt === 1 || attempt % 30 === 0)
        this.logger.warn(fields, "bus: cannot connect to NATS, retrying");
      else this.logger.debug(fields, "bus: cannot connect to NATS, retrying");
      const delayMs = DIAL_RETRY_MS + Math.floor(Math.random() * DIAL_RETRY_MS);
      this.retryTimer = setTimeout(() => void this.dial(attempt + 1), delayMs);
    }
  }

  private adopt(nc: NatsConnection): void {
    const again = this.nc !== undefined;
    this.nc = nc;
    this.connected = true;
    for (const entry of this.registered) this.attach(nc, entry);
    this.logger.info({ server: nc.getServer() }, "bus: connected to NATS");
    this.emit(
      again ? { type: "reconnected", server: nc.getServer() } : { type: "connected", server: nc.getServer() },
    );
    this.markFirstConnect();
    if (again) for (const listener of this.reconnectListeners) listener();
    void this.watchStatus(nc);
    void nc.closed().then((error) => {
      if (this.closed || this.nc !== nc) return;
      this.connected = false;
      this.logger.error(
        { err: error ? errorText(error) : undefined },
        "bus: NATS connection closed, dialing again",
      );
      this.emit({ type: "disconnected", server: nc.getServer() });
      void this.dial(1);
    });
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (this.closed || this.nc !== nc) return;
      switch (status.type) {
        case "disconnect":
          this.connected = false;
          this.logger.warn({ server: status.server }, "bus: disconnected from NATS");
          this.emit({ type: "disconnected", server: status.server });
          break;
        case "reconnecting":
          this.emit({ type: "reconnecting" });
          break;
        case "reconnect":
          this.connected = true;
          this.logger.info({ server: status.server }, "bus: reconnected to NATS");
          this.emit({ type: "reconnected", server: status.server });
          for (const listener of this.reconnectListeners) listener();
          break;
        case "staleConnection":
          this.logger.warn("bus: NATS server stopped answering pings, reconnecting");
          break;
        case "ldm":
          this.logger.warn({ server: status.server }, "bus: NATS server entering lame duck mode");
          break;
        case "error":
          this.reportError(status.error);
          break;
        default:
          break;
      }
    }
  }

  private reportError(error: Error): void {
    if (error instanceof PermissionViolationError) {
      this.logger.error(
        { op: error.operation, subject: error.subject, err: error.message },
        "bus: NATS permission violation (message dropped by the server)",
      );
      this.emit({
        type: "permission-error",
        operation: error.operation,
        subject: error.subject,
        message: error.message,
      });
      return;
    }
    this.logger.error({ err: error.message }, "bus: NATS error");
    this.emit({ type: "error", message: error.message });
  }

  private emit(status: BusStatus): void {
    for (const listener of this.statusListeners) {
      try {
        listener(status);
      } catch (error) {
        this.logger.error({ err: errorText(error), status: status.type }, "bus: status listener failed");
      }
    }
  }
}
