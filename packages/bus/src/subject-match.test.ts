import { describe, expect, it } from "vitest";
import { subjectMatches } from "./subject-match.js";

describe("subjectMatches", () => {
  it.each([
    ["a.b.c", "a.b.c", true],
    ["a.*.c", "a.b.c", true],
    ["a.*", "a.b.c", false],
    ["a.>", "a.b.c", true],
    ["a.>", "a", false],
    ["a.b.c", "a.b", false],
    ["lvsq.x.votes.>", "lvsq.x.votes.p1.web", true],
    ["lvsq.x.votes.p2.>", "lvsq.x.votes.p1.web", false],
  ])("%s ~ %s = %s", (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });
});
