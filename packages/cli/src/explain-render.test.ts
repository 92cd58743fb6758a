import type { ServiceExplanation } from "@lvsq/engine";
import { describe, expect, it } from "vitest";
import { renderExplanation } from "./explain-render.js";

const tally = { by: "site" as const, up: 0, down: 1, total: 1, upNeeded: 1, downNeeded: 1 };

function explanation(vote: ServiceExplanation["realServers"][number]["sites"][number]["votes"][number]) {
  const e: ServiceExplanation = {
    service: "web",
    key: "tcp 192.0.2.1:80",
    director: "lvs-a",
    by: "site",
    voteTtlMs: 6000,
    startupGrace: { active: false, endsAt: null },
    fallback: { active: false, servers: [], minUpWeight: null },
    removalLimit: null,
    realServers: [
      {
        rs: "198.51.100.1:80",
        in: false,
        weight: null,
        health: "down",
        rule: "quorum-down",
        verdict: "down",
        tally,
        since: 1,
        admin: null,
        sites: [{ site: "dc1", verdict: "down", votes: [vote] }],
      },
    ],
  };
  return renderExplanation({ director: "lvs-a", role: "leader", explanation: e });
}

describe("lvsq explain's text", () => {
  it("prints a settled vote with its reason and age", () => {
    const text = explanation({ probe: "p1", site: "dc1", state: "down", ageMs: 1200, reason: "HTTP 503" });
    expect(text).toContain('p1=down "HTTP 503" (1.2 s ago)');
  });

  it("says a flip is under way when the last check disagrees with the vote", () => {
    const text = explanation({
      probe: "p1",
      site: "dc1",
      state: "down",
      ageMs: 300,
      reason: "HTTP 200",
      pending: { state: "up", count: 1, needed: 2 },
    });
    expect(text).toContain('p1=down, rising 1/2, last check "HTTP 200" (300 ms ago)');
  });
});
