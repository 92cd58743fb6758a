/**
 * A one-shot command's whole-run deadline. The bus client has a timeout per request, but a broker that
 * accepts a connection and then answers nothing (overloaded, paused, half-partitioned) can hold a command
 * for minutes with nothing on the terminal; the operator needs to hear which step it was stuck in.
 */
export type CommandSteps = {
  /** What the work is doing now, for the timeout's message. */
  current: string;
  /** Set when the deadline passed: work still running checks it before a step that cannot be undone. */
  expired: boolean;
};

export class CommandTimeout extends Error {
  constructor(
    readonly step: string,
    readonly timeoutMs: number,
  ) {
    super(`timed out after ${timeoutMs} ms while ${step}`);
    this.name = "CommandTimeout";
  }
}

/** Runs `work` with `steps.current` naming what it is doing; rejects with CommandTimeout after `timeoutMs`. */
export async function withCommandDeadline<T>(
  timeoutMs: number,
  firstStep: string,
  work: (steps: CommandSteps) => Promise<T>,
): Promise<T> {
  const steps: CommandSteps = { current: firstStep, expired: false };
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, fail) => {
    timer = setTimeout(() => {
      steps.expired = true;
      fail(new CommandTimeout(steps.current, timeoutMs));
    }, timeoutMs);
  });
  try {
    return await Promise.race([work(steps), expired]);
  } finally {
    clearTimeout(timer);
  }
}
