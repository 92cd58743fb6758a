import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { every } from "./timers.js";

describe("every", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("runs first after one interval, at once with immediate, or within the jitter window", async () => {
    const plain = vi.fn();
    const now = vi.fn();
    const spread = vi.fn();
    const timers = [
      every(1000, plain),
      every(1000, now, { immediate: true }),
      every(1000, spread, { jitter: 0.5, random: () => 0.5 }),
    ];
    await vi.advanceTimersByTimeAsync(0);
    expect([plain.mock.calls.length, now.mock.calls.length, spread.mock.calls.length]).toEqual([0, 1, 0]);
    await vi.advanceTimersByTimeAsync(250);
    expect(spread).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(750);
    expect([plain.mock.calls.length, now.mock.calls.length]).toEqual([1, 2]);
    for (const t of timers) t.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(plain).toHaveBeenCalledTimes(1);
  });

  it("keeps running after a failing run and reports the error", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const timer = every(
      100,
      () => {
        calls++;
        throw new Error("boom");
      },
      { onError: (e) => errors.push(e) },
    );
    await vi.advanceTimersByTimeAsync(350);
    timer.stop();
    expect(calls).toBe(3);
    expect(errors).toHaveLength(3);
  });
});
