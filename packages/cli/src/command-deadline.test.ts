import { describe, expect, it } from "vitest";
import { CommandTimeout, withCommandDeadline } from "./command-deadline.js";

describe("withCommandDeadline", () => {
  it("returns the work's value when it finishes in time", async () => {
    const value = await withCommandDeadline(1000, { current: "start" }, async (steps) => {
      steps.current = "second";
      return 42;
    });
    expect(value).toBe(42);
  });

  it("rejects with the step the work was in when the deadline passed", async () => {
    const started = performance.now();
    const error = await withCommandDeadline(50, { current: "connecting" }, async (steps) => {
      steps.current = "opening KV bucket b";
      await new Promise(() => {}); // a broker that never answers
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandTimeout);
    expect((error as CommandTimeout).step).toBe("opening KV bucket b");
    expect((error as CommandTimeout).message).toBe("timed out after 50 ms while opening KV bucket b");
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  it("passes the work's own error through", async () => {
    await expect(
      withCommandDeadline(1000, { current: "x" }, async () => {
        throw new Error("refused");
      }),
    ).rejects.toThrow("refused");
  });
});
