import { describe, expect, it } from "vitest";
import {
  type Counts,
  countVoters,
  createLayout,
  decideVerdict,
  dynamicWeight,
  siteVerdict,
  tallyOf,
} from "./quorum.js";
import { createVoteSlots, recordVote, VOTE_ABSTAIN, VOTE_DOWN, VOTE_UP } from "./vote-store.js";

const TTL = 1000;

describe("siteVerdict: the majority of a site's fresh votes, a tie is none", () => {
  it.each([
    [2, 1, "up"],
    [1, 2, "down"],
    [1, 1, "none"],
    [0, 0, "none"],
  ] as const)("%i up, %i down → %s", (up, down, verdict) => {
    expect(siteVerdict(up, down)).toBe(verdict);
  });
});

describe("decideVerdict: the service-level truth table", () => {
  const { layout } = createLayout("site", ["a", "b", "c"], "majority", "majority");
  it.each([
    [2, 0, "up"],
    [3, 0, "up"],
    [0, 2, "down"],
    [1, 1, "fail-static"],
    [0, 0, "fail-static"],
    [1, 0, "fail-static"],
  ] as const)("%i sites up, %i down of 3 (majority) → %s", (up, down, verdict) => {
    expect(decideVerdict({ up, down }, layout)).toBe(verdict);
  });

  it("both thresholds reached is a conflict", () => {
    const low = createLayout("probe", ["a", "b"], 1, 1).layout;
    expect(decideVerdict({ up: 1, down: 1 }, low)).toBe("conflict");
  });

  it("never needs fewer than one voter", () => {
    const zero = createLayout("site", [], "all", "all").layout;
    expect([zero.total, zero.upNeeded, zero.downNeeded]).toEqual([0, 1, 1]);
    expect(decideVerdict({ up: 0, down: 0 }, zero)).toBe("fail-static");
  });
});

describe("createLayout", () => {
  it("counts distinct sites by: site and probes by: probe", () => {
    const bySite = createLayout("site", ["a", "a", "b"], "majority", "all");
    expect(bySite.siteNames).toEqual(["a", "b"]);
    expect(Array.from(bySite.layout.siteOfProbe)).toEqual([0, 0, 1]);
    expect([bySite.layout.total, bySite.layout.upNeeded, bySite.layout.downNeeded]).toEqual([2, 2, 2]);
    const byProbe = createLayout("probe", ["a", "a", "b"], "50%", 1);
    expect([byProbe.layout.total, byProbe.layout.upNeeded, byProbe.layout.downNeeded]).toEqual([3, 2, 1]);
  });
});

describe("countVoters", () => {
  // Probes 0,1 in site a; probe 2 in site b. One real server.
  const setup = (by: "site" | "probe", states: number[], at: number[]) => {
    const { layout } = createLayout(by, ["a", "a", "b"], "majority", "majority");
    const slots = createVoteSlots(1, 3);
    states.forEach((state, p) => {
      if (state !== 0) recordVote(slots, p, state, undefined, "", undefined, at[p]!, TTL);
    });
    return { layout, slots };
  };

  it.each([
    ["site", [VOTE_UP, VOTE_DOWN, VOTE_UP], { up: 1, down: 0 }],
    ["site", [VOTE_DOWN, VOTE_DOWN, VOTE_UP], { up: 1, down: 1 }],
    ["site", [VOTE_ABSTAIN, VOTE_DOWN, VOTE_DOWN], { up: 0, down: 2 }],
    ["probe", [VOTE_UP, VOTE_DOWN, VOTE_UP], { up: 2, down: 1 }],
    ["probe", [VOTE_ABSTAIN, 0, VOTE_DOWN], { up: 0, down: 1 }],
  ] as const)("by %s, votes %j → %j", (by, states, expected) => {
    const { layout, slots } = setup(by, [...states], [0, 0, 0]);
    const out: Counts = { up: -1, down: -1 };
    countVoters(slots, 0, 500, TTL, layout, out);
    expect(out).toEqual(expected);
    expect(tallyOf(out, layout)).toMatchObject({ by, ...expected, total: by === "site" ? 2 : 3 });
  });

  it("ignores votes older than the ttl (they are abstentions)", () => {
    const { layout, slots } = setup("probe", [VOTE_DOWN, VOTE_DOWN, VOTE_UP], [0, 1500, 1500]);
    const out: Counts = { up: 0, down: 0 };
    countVoters(slots, 0, 2000, TTL, layout, out);
    expect(out).toEqual({ up: 1, down: 1 });
    countVoters(slots, 0, 1000, TTL, layout, out);
    expect(out).toEqual({ up: 1, down: 2 });
  });
});

describe("dynamicWeight: the lower median of fresh up votes' weights", () => {
  const slotsWith = (votes: [number, number | undefined, number][]) => {
    const slots = createVoteSlots(1, votes.length);
    votes.forEach(([state, weight, at], p) => {
      recordVote(slots, p, state, weight, "", undefined, at, TTL);
    });
    return slots;
  };
  const scratch: number[] = [];
  it.each([
    ["no weights", [[VOTE_UP, undefined, 0]], -1],
    ["one", [[VOTE_UP, 7, 0]], 7],
    [
      "lower median of two",
      [
        [VOTE_UP, 9, 0],
        [VOTE_UP, 3, 0],
      ],
      3,
    ],
    [
      "median of three",
      [
        [VOTE_UP, 90, 0],
        [VOTE_UP, 10, 0],
        [VOTE_UP, 20, 0],
      ],
      20,
    ],
    [
      "down and stale votes do not count",
      [
        [VOTE_DOWN, 1, 0],
        [VOTE_UP, 50, -5000],
        [VOTE_UP, 4, 0],
      ],
      4,
    ],
  ] as const)("%s", (_, votes, expected) => {
    const slots = slotsWith(votes.map((v) => [...v]));
    expect(dynamicWeight(slots, 0, 100, TTL, scratch)).toBe(expected);
  });
});
