/** Where a command writes; tests pass buffers, main passes the process streams. */
export type CliIo = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
};

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

const EXIT_WITH = Symbol.for("lvsq.ExitWith");

/** Thrown by a command to end with a specific exit code after printing its own message. */
export class ExitWith extends Error {
  readonly [EXIT_WITH] = true;
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }

  // Each command's bundle (dist/lvsq-<command>.mjs) carries its own copy of this class, apart from the
  // entry's: `instanceof` goes by the mark, so runCli recognises what any copy threw.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[EXIT_WITH] === true
    );
  }
}
