import { describe, expect, it } from "vitest";
import { CommandTimeout, type CommandSteps, withCommandDeadline } from "./command-deadline.js";

describe("withCommandDeadline", () => {
  it("returns the work's value when it finishes in time, and the steps are not expired", async () => {
    let seen: CommandSteps | undefined;
    const value = await withCommandDeadline(1000, "start", async (steps) => {
      seen = steps;
      steps.current = "second";
      return 42;
    });
    expect(value).toBe(42);
    expect(seen?.expired).toBe(false);
  });

  it("rejects with the step the work was in when the deadline passed, and marks the steps expired", async () => {
    const started = performance.now();
    let seen: CommandSteps | undefined;
    let answer: () => void = () => {};
    const error = await withCommandDeadline(50, "connecting", async (steps) => {
      seen = steps;
      steps.current = "opening KV bucket b";
      await new Promise<void>((resolve) => {
        answer = resolve; // a broker that answers only after the deadline
      });
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandTimeout);
    expect((error as CommandTimeout).step).toBe("opening KV bucket b");
    expect((error as CommandTimeout).message).toBe("timed out after 50 ms while opening KV bucket b");
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    // The late answer still reaches the work, which must see that it gave up before writing anything.
    answer();
    expect(seen?.expired).toBe(true);
  });

  it("passes the work's own error through", async () => {
    await expect(
      withCommandDeadline(1000, "x", async () => {
        throw new Error("refused");
      }),
    ).rejects.toThrow("refused");
  });
});
