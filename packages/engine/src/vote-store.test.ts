import { describe, expect, it } from "vitest";
import {
  copyVote,
  countedCode,
  createVoteSlots,
  expireVotes,
  hasAnyVote,
  recordVote,
  viewVote,
  VOTE_ABSTAIN,
  VOTE_DOWN,
  VOTE_NONE,
  VOTE_UP,
  voteCode,
} from "./vote-store.js";

const TTL = 1000;

describe("vote store", () => {
  it("maps vote states to codes", () => {
    expect([voteCode("up"), voteCode("down"), voteCode("abstain")]).toEqual([
      VOTE_UP,
      VOTE_DOWN,
      VOTE_ABSTAIN,
    ]);
  });

  it("counts a vote while now - receivedAt <= ttl, and abstain never", () => {
    const slots = createVoteSlots(1, 2);
    expect(countedCode(slots, 0, 0, TTL)).toBe(VOTE_NONE);
    recordVote(slots, 0, VOTE_DOWN, undefined, "503", undefined, 100, TTL);
    recordVote(slots, 1, VOTE_ABSTAIN, undefined, "exec missing", undefined, 100, TTL);
    expect(countedCode(slots, 0, 1100, TTL)).toBe(VOTE_DOWN);
    expect(countedCode(slots, 0, 1101, TTL)).toBe(VOTE_NONE);
    expect(countedCode(slots, 1, 100, TTL)).toBe(VOTE_NONE);
  });

  it.each([
    ["first up vote", [], [VOTE_UP, undefined, 0], true],
    ["same vote refreshed", [[VOTE_UP, undefined, 0]], [VOTE_UP, undefined, 500], false],
    ["flip", [[VOTE_UP, undefined, 0]], [VOTE_DOWN, undefined, 500], true],
    ["new weight on an up vote", [[VOTE_UP, 3, 0]], [VOTE_UP, 4, 500], true],
    ["new weight on a down vote", [[VOTE_DOWN, 3, 0]], [VOTE_DOWN, 4, 500], false],
    ["abstain after abstain", [[VOTE_ABSTAIN, undefined, 0]], [VOTE_ABSTAIN, undefined, 500], false],
    ["up after abstain", [[VOTE_ABSTAIN, undefined, 0]], [VOTE_UP, undefined, 500], true],
    ["same vote after it expired", [[VOTE_UP, undefined, 0]], [VOTE_UP, undefined, 5000], true],
  ] as const)("recordVote reports a change: %s → %s", (_, before, [code, weight, at], changed) => {
    const slots = createVoteSlots(1, 1);
    for (const [c, w, t] of before) recordVote(slots, 0, c, w, "", undefined, t, TTL);
    expect(recordVote(slots, 0, code, weight, "", undefined, at, TTL)).toBe(changed);
  });

  it("expires votes once, reports per probe, and recomputes the next expiry", () => {
    const slots = createVoteSlots(2, 2);
    recordVote(slots, 0, VOTE_UP, undefined, "", undefined, 0, TTL); // rs 0, probe 0
    recordVote(slots, 1, VOTE_ABSTAIN, undefined, "", undefined, 100, TTL); // rs 0, probe 1
    recordVote(slots, 2, VOTE_DOWN, undefined, "", undefined, 200, TTL); // rs 1, probe 0
    recordVote(slots, 3, VOTE_UP, undefined, "", undefined, 1500, TTL); // rs 1, probe 1
    expect(slots.nextExpiryAt).toBe(1000);
    expect(expireVotes(slots, 1000, TTL)).toBeUndefined();
    expect(slots.nextExpiryAt).toBe(1000);
    const scan = expireVotes(slots, 1300, TTL)!;
    expect(scan.realServers).toEqual([0, 1]);
    expect(Array.from(scan.expiredPerProbe)).toEqual([2, 1]);
    expect(Array.from(scan.newestPerProbe)).toEqual([200, 100]);
    expect(slots.nextExpiryAt).toBe(2500);
    // Already reported: a second scan says nothing, and the expired vote still reads as expired.
    expect(expireVotes(slots, 1400, TTL)).toBeUndefined();
    expect(viewVote(slots, 0, 1400, TTL, "p", "s")).toMatchObject({ state: "expired", ageMs: 1400 });
    const last = expireVotes(slots, 3000, TTL)!;
    expect(last.realServers).toEqual([1]);
    expect(slots.nextExpiryAt).toBe(Number.POSITIVE_INFINITY);
  });

  it("only an abstain expiring re-decides nothing", () => {
    const slots = createVoteSlots(1, 1);
    recordVote(slots, 0, VOTE_ABSTAIN, undefined, "", undefined, 0, TTL);
    expect(expireVotes(slots, 2000, TTL)?.realServers).toEqual([]);
  });

  it("knows whether a real server ever got a vote", () => {
    const slots = createVoteSlots(2, 2);
    recordVote(slots, 3, VOTE_ABSTAIN, undefined, "", undefined, 0, TTL);
    expect([hasAnyVote(slots, 0), hasAnyVote(slots, 1)]).toEqual([false, true]);
  });

  it("copies a slot and forces a rescan of the target", () => {
    const from = createVoteSlots(1, 1);
    const to = createVoteSlots(1, 1);
    recordVote(from, 0, VOTE_UP, 7, "ok", { state: "down", count: 1, needed: 3 }, 10, TTL);
    copyVote(from, 0, to, 0);
    expect(viewVote(to, 0, 20, TTL, "p1", "dc1")).toEqual({
      probe: "p1",
      site: "dc1",
      state: "up",
      ageMs: 10,
      reason: "ok",
      weight: 7,
      pending: { state: "down", count: 1, needed: 3 },
    });
    expect(to.nextExpiryAt).toBe(Number.NEGATIVE_INFINITY);
  });

  it("shows a flip under way while the vote is fresh, and not once it expired or the next vote has none", () => {
    const slots = createVoteSlots(1, 1);
    recordVote(slots, 0, VOTE_DOWN, undefined, "HTTP 200", { state: "up", count: 1, needed: 2 }, 0, TTL);
    expect(viewVote(slots, 0, 500, TTL, "p1", "dc1")).toMatchObject({
      state: "down",
      reason: "HTTP 200",
      pending: { state: "up", count: 1, needed: 2 },
    });
    expect(viewVote(slots, 0, TTL + 1, TTL, "p1", "dc1")).not.toHaveProperty("pending");
    recordVote(slots, 0, VOTE_UP, undefined, "HTTP 200", undefined, 600, TTL);
    expect(viewVote(slots, 0, 700, TTL, "p1", "dc1")).not.toHaveProperty("pending");
  });

  it("views a missing vote", () => {
    const slots = createVoteSlots(1, 1);
    expect(viewVote(slots, 0, 0, TTL, "p1", "dc1")).toEqual({
      probe: "p1",
      site: "dc1",
      state: "missing",
      ageMs: null,
      reason: "",
    });
  });
});
