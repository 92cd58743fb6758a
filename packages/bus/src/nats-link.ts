import {
  connect,
  type NatsConnection,
  type NodeConnectionOptions,
  PermissionViolationError,
} from "@nats-io/transport-node";
import type { Logger } from "pino";
import { errorText } from "./inbound.js";
import type { BusStatus } from "./types.js";

/** Pause between first-connect attempts (plus up to as much jitter); reconnects after that are nats.js's. */
const DIAL_RETRY_MS = 1_000;

/**
 * The connection side of the NATS bus: dials until the first connection (and again if nats.js ever gives
 * up), follows nats.js's status stream, and turns it into BusStatus events and log lines. `onConnection` is
 * called with every new connection before anyone hears of it, so the bus can attach its subscriptions.
 */
export class NatsLink {
  private nc: NatsConnection | undefined;
  private connected = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly statusListeners = new Set<(status: BusStatus) => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private readonly firstConnect: Promise<void>;
  private markFirstConnect: () => void = () => {};

  constructor(
    private readonly connectionOptions: NodeConnectionOptions,
    private readonly logger: Logger,
    private readonly onConnection: (nc: NatsConnection) => void,
  ) {
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

  /** The connection while connected, else undefined. */
  connection(): NatsConnection | undefined {
    return this.connected ? this.nc : undefined;
  }

  /** The current connection, also while nats.js is reconnecting it (subscriptions made now resume). */
  current(): NatsConnection | undefined {
    return this.nc && !this.nc.isClosed() ? this.nc : undefined;
  }

  isConnected(): boolean {
    return this.connected;
  }

  hasJetStream(): boolean | undefined {
    const info = this.connection()?.info;
    return info === undefined ? undefined : info.jetstream === true;
  }

  onStatus(listener: (status: BusStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.connected = false;
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
    this.emit({ type: "closed" });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** First connection (and again if nats.js ever gives up, e.g. after repeated auth errors): retry forever. */
  private async dial(attempt: number): Promise<void> {
    if (this.closed) return;
    const started = Date.now();
    try {
      const nc = await connect(this.connectionOptions);
      if (this.closed) {
        await nc.close();
        return;
      }
      this.adopt(nc, attempt, started);
    } catch (error) {
      const fields = {
        attempt,
        servers: this.connectionOptions.servers,
        err: errorText(error),
        ms: Date.now() - started,
      };
      // Every attempt of the first ten says how it failed and how long it took (a hung server costs the
      // whole connect timeout); after that one line in thirty, so a long outage does not flood the log.
      if (attempt === 1 || attempt % 30 === 0)
        this.logger.warn(fields, "bus: cannot connect to NATS, retrying");
      else if (attempt <= 10) this.logger.info(fields, "bus: cannot connect to NATS, retrying");
      else this.logger.debug(fields, "bus: cannot connect to NATS, retrying");
      const delayMs = DIAL_RETRY_MS + Math.floor(Math.random() * DIAL_RETRY_MS);
      this.retryTimer = setTimeout(() => void this.dial(attempt + 1), delayMs);
    }
  }

  private adopt(nc: NatsConnection, attempt: number, started: number): void {
    const again = this.nc !== undefined;
    this.nc = nc;
    this.connected = true;
    this.onConnection(nc);
    this.logger.info({ server: nc.getServer(), attempt, ms: Date.now() - started }, "bus: connected to NATS");
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
