import type { Logger } from "pino";

export type SignalHandlers = {
  /** SIGHUP: reload the config (a bad one is refused by the handler, the old one kept). */
  reload?: () => Promise<void> | void;
  /** SIGTERM / SIGINT: stop cleanly; the process exits with 0 after it resolves. */
  stop: () => Promise<void> | void;
  /** Hard deadline for stop, after which the process exits with 1. */
  stopTimeoutMs?: number;
};

/** Wires SIGHUP/SIGTERM/SIGINT to an agent. Returns a function that removes the handlers. */
export function handleSignals(logger: Logger, handlers: SignalHandlers): () => void {
  let stopping = false;
  const onStop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    const deadline = setTimeout(() => {
      logger.error({ signal, timeoutMs: handlers.stopTimeoutMs ?? 2000 }, "stop took too long, exiting");
      process.exit(1);
    }, handlers.stopTimeoutMs ?? 2000);
    deadline.unref();
    Promise.resolve()
      .then(handlers.stop)
      .then(
        () => {
          logger.info("stopped");
          logger.flush?.();
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, "error while stopping");
          process.exit(1);
        },
      );
  };
  const onReload = () => {
    if (!handlers.reload) return;
    logger.info({ signal: "SIGHUP" }, "reloading config");
    Promise.resolve()
      .then(handlers.reload)
      .catch((error: unknown) => logger.error({ err: error }, "reload failed"));
  };
  process.on("SIGTERM", onStop);
  process.on("SIGINT", onStop);
  process.on("SIGHUP", onReload);
  return () => {
    process.off("SIGTERM", onStop);
    process.off("SIGINT", onStop);
    process.off("SIGHUP", onReload);
  };
}
