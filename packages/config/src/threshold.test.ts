import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";
import { thresholdCount } from "./threshold.js";

describe("thresholdCount", () => {
  it.each([
    ["majority", 3, 2],
    ["majority", 4, 3],
    ["majority", 1, 1],
    ["all", 3, 3],
    [2, 3, 2],
    ["50%", 3, 2],
    ["34%", 3, 2],
    ["33%", 3, 1],
    ["100%", 5, 5],
    ["1%", 5, 1],
  ] as const)("%s of %i voters needs %i", (threshold, total, needed) => {
    expect(thresholdCount(threshold, total)).toBe(needed);
  });
});

describe("durations", () => {
  it.each([
    ["500ms", 500],
    ["2s", 2000],
    ["1.5s", 1500],
    ["1m", 60_000],
    ["1h", 3_600_000],
    ["0s", 0],
  ])("%s = %i ms", (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(["5", "5sec", "-1s", "s", "1 s2", ""])("rejects %j", (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );
  it("formats back", () =>
    expect([500, 2000, 60_000, 0].map(formatDuration)).toEqual(["500ms", "2s", "1m", "0s"]));
});
