import { describe, expect, it } from "vitest";
import { applyResult, initialRiseFall, pendingOf, type RiseFallState, voteOf } from "./rise-fall.js";

const limits = { rise: 2, fall: 3 };
const up = { verdict: "up" as const, reason: "HTTP 200", latencyMs: 1 };
const down = { verdict: "down" as const, reason: "HTTP 503", latencyMs: 1 };
const abstain = { verdict: "abstain" as const, reason: "EMFILE", latencyMs: 0 };

function feed(
  results: (typeof up | typeof down | typeof abstain)[],
  start: RiseFallState = initialRiseFall(0),
) {
  let state = start;
  const votes: string[] = [];
  const flips: boolean[] = [];
  results.forEach((result, i) => {
    const step = applyResult(state, result, limits, i + 1);
    state = step.state;
    votes.push(voteOf(state));
    flips.push(step.flipped);
  });
  return { state, votes, flips };
}

describe("rise/fall", () => {
  it.each([
    ["unknown until rise successes", [up, up], ["abstain", "up"]],
    ["unknown until fall failures", [down, down, down], ["abstain", "abstain", "down"]],
    [
      "a failure streak shorter than fall does not flip",
      [up, up, down, down, up],
      ["abstain", "up", "up", "up", "up"],
    ],
    [
      "fall consecutive failures flip to down",
      [up, up, down, down, down],
      ["abstain", "up", "up", "up", "down"],
    ],
    [
      "a success resets the failure count",
      [up, up, down, down, up, down, down],
      ["abstain", "up", "up", "up", "up", "up", "up"],
    ],
    [
      "rise consecutive successes bring it back",
      [down, down, down, up, up],
      ["abstain", "abstain", "down", "down", "up"],
    ],
    ["an abstention never accuses", [up, up, abstain], ["abstain", "up", "abstain"]],
    [
      "after an abstention the settled state returns with the next real result",
      [up, up, abstain, up],
      ["abstain", "up", "abstain", "up"],
    ],
    [
      "abstentions reset the streaks",
      [up, up, down, down, abstain, down],
      ["abstain", "up", "up", "up", "abstain", "up"],
    ],
  ] as const)("%s", (_name, results, expected) => {
    expect(feed([...results]).votes).toEqual(expected);
  });

  it("reports flips and the time the vote changed", () => {
    const { flips, state } = feed([up, up, down, down, down]);
    expect(flips).toEqual([false, true, false, false, true]);
    expect(state.since).toBe(5);
  });

  it("carries a dynamic weight from an up result", () => {
    const { state } = feed([{ ...up, weight: 7 } as typeof up, { ...up, weight: 7 } as typeof up]);
    expect(state.weight).toBe(7);
  });
});

describe("the flip under way (pending)", () => {
  it.each([
    ["nothing before the first result", [], undefined],
    ["rising towards the first up", [up], { state: "up", count: 1, needed: 2 }],
    ["falling towards the first down", [down, down], { state: "down", count: 2, needed: 3 }],
    ["none once up", [up, up], undefined],
    [
      "down, rising 1/2 (the last check said HTTP 200)",
      [down, down, down, up],
      { state: "up", count: 1, needed: 2 },
    ],
    ["up, falling 2/3", [up, up, down, down], { state: "down", count: 2, needed: 3 }],
    ["none once the flip happened", [up, up, down, down, down], undefined],
    ["none after an abstention (the checker broke)", [up, up, down, abstain], undefined],
    ["a success after failures restarts the count", [down, down, down, up, down], undefined],
  ] as const)("%s", (_, results, expected) => {
    const { state } = feed([...results]);
    expect(pendingOf(state, limits)).toEqual(expected);
  });
});

describe("warnings (tls expiry)", () => {
  it("carry the last up result's warning, and clear on the next plain or failed result", () => {
    const warned = { ...up, reason: "expires in 3 days", warning: true };
    let state = applyResult(initialRiseFall(0), warned, limits, 1).state;
    expect(state.warning).toBe(true);
    state = applyResult(state, up, limits, 2).state;
    expect(state.warning).toBe(false);
    state = applyResult(state, warned, limits, 3).state;
    state = applyResult(state, down, limits, 4).state;
    expect(state.warning).toBe(false);
  });
});
