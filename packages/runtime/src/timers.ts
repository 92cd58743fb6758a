/**
 * A repeating timer. The first run comes after one interval, at once with `immediate`, or spread over
 * `jitter` (0..1) of the interval so a fleet of probes restarted together does not check in lock-step.
 * Each next run is scheduled after the previous finished, so a slow run never overlaps itself.
 */
export function every(
  intervalMs: number,
  run: () => Promise<void> | void,
  options: {
    jitter?: number;
    random?: () => number;
    immediate?: boolean;
    onError?: (error: unknown) => void;
  } = {},
): { stop(): void } {
  const random = options.random ?? Math.random;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(async () => {
      try {
        await run();
      } catch (error) {
        // A failing run must not kill the process nor stop the timer; the owner decides how to report it.
        options.onError?.(error);
      } finally {
        schedule(intervalMs);
      }
    }, delayMs);
  };
  const first = options.immediate
    ? 0
    : options.jitter
      ? Math.floor(intervalMs * options.jitter * random())
      : intervalMs;
  schedule(first);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** Resolves after `ms`, or rejects when the signal aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}
