import { LvsqError } from "@lvsq/protocol";
import {
  type NatsConnection,
  type NodeConnectionOptions,
  NoRespondersError,
  RequestError,
  type Subscription,
  TimeoutError,
} from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { ZodType } from "zod";
import { busUnavailable } from "./errors.js";
import { decodeJson, encodeJson, errorText, Inbound } from "./inbound.js";
import { NatsKv } from "./nats-kv.js";
import { NatsLink } from "./nats-link.js";
import type {
  Bus,
  BusStats,
  BusStatus,
  BusSubscription,
  Kv,
  KvBucketOptions,
  SubscribeOptions,
} from "./types.js";

type Registered = {
  subject: string;
  queue: string | undefined;
  callback: (
    error: Error | null,
    msg: { subject: string; reply?: string; string(): string; respond(data: string): boolean },
  ) => void;
  live: Subscription | undefined;
};

/**
 * The Bus over NATS: publish, validated subscribe, request/reply and KV. The connection itself (dialing,
 * reconnects, status events) is nats-link.ts; every subscription is kept here and attached again to each
 * new connection the link makes.
 */
export class NatsBus implements Bus {
  readonly name: string;
  readonly logger: Logger;
  readonly kvTimeoutMs: number;
  private readonly replicas: number | undefined;
  private readonly inbound: Inbound;
  private readonly link: NatsLink;
  private readonly registered = new Set<Registered>();

  constructor(
    options: { name: string; logger: Logger; kvTimeoutMs?: number; replicas?: number },
    private readonly connectionOptions: NodeConnectionOptions,
  ) {
    this.name = options.name;
    this.logger = options.logger;
    this.kvTimeoutMs = options.kvTimeoutMs ?? 2_000;
    this.replicas = options.replicas;
    this.inbound = new Inbound(options.logger);
    this.link = new NatsLink(connectionOptions, options.logger, (nc) => {
      for (const entry of this.registered) this.attach(nc, entry);
    });
  }

  waitFirstConnect(waitMs: number): Promise<void> {
    return this.link.waitFirstConnect(waitMs);
  }

  connection(): NatsConnection | undefined {
    return this.link.connection();
  }

  /** KV replicas: the configured number, else 3 on a cluster of 3 or more nodes, else 1. */
  kvReplicas(): { replicas: number; configured: boolean } {
    if (this.replicas !== undefined) return { replicas: this.replicas, configured: true };
    const servers = [this.connectionOptions.servers ?? []].flat().length;
    const announced = this.link.connection()?.info?.connect_urls?.length ?? 0;
    return { replicas: Math.max(servers, announced) >= 3 ? 3 : 1, configured: false };
  }

  onReconnect(listener: () => void): () => void {
    return this.link.onReconnect(listener);
  }

  isConnected(): boolean {
    return this.link.isConnected();
  }

  hasJetStream(): boolean | undefined {
    return this.link.hasJetStream();
  }

  publish(subject: string, payload: unknown): boolean {
    const nc = this.link.connection();
    if (!nc) {
      this.inbound.counters.publishDropped++;
      return false;
    }
    try {
      nc.publish(subject, encodeJson(payload));
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
    return this.link.onStatus(listener);
  }

  stats(): BusStats {
    return this.inbound.snapshot();
  }

  async close(): Promise<void> {
    if (this.link.isClosed) return;
    this.registered.clear();
    await this.link.close();
  }

  private register(
    subject: string,
    queue: string | undefined,
    callback: Registered["callback"],
  ): BusSubscription {
    const entry: Registered = { subject, queue, callback, live: undefined };
    this.registered.add(entry);
    const nc = this.link.current();
    if (nc) this.attach(nc, entry);
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
}
