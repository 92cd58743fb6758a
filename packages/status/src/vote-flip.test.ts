import { parseConfig } from "@lvsq/config";
import type { VoteBatch } from "@lvsq/protocol";
import { describe, expect, it } from "vitest";
import { describeEvent } from "./describe.js";
import { FleetModel } from "./model.js";
import { renderTable } from "./render-table.js";

const config = parseConfig(
  `cluster: edge
quorum: { by: site, voteTtl: 6s }
sites: [dc1, dc2, dc3]
probes: [{ id: p1, site: dc1 }, { id: p2, site: dc2 }, { id: p3, site: dc3 }]
directors: [{ id: lvs-a }]
services:
  web:
    vip: 192.0.2.10:80
    realServers: [{ address: 10.0.0.1:80 }]
`,
  "fleet.yaml",
);
const T0 = 1_764_000_000_000;
const A = "10.0.0.1:80";

function votes(probe: string, site: string, seq: number, states: Record<string, "up" | "down">): VoteBatch {
  return {
    v: 1,
    cluster: "edge",
    probe,
    site,
    service: "web",
    seq,
    sentAt: T0,
    intervalMs: 2000,
    votes: Object.entries(states).map(([rs, state]) => ({
      rs,
      state,
      since: T0,
      latencyMs: 1,
      reason: state === "down" ? "HTTP 503" : "HTTP 200",
    })),
  };
}

describe("a flip under way (a vote whose probe's last checks disagree with it)", () => {
  const rising = (seq: number): VoteBatch => {
    const batch = votes("p1", "dc1", seq, { [A]: "down" });
    batch.votes[0] = {
      ...batch.votes[0]!,
      reason: "HTTP 200",
      pending: { state: "up", count: 1, needed: 2 },
    };
    return batch;
  };

  it("keeps it in the snapshot while the vote is fresh, and marks it in the table", () => {
    const model = new FleetModel(config);
    model.ingestVotes(rising(1), T0);
    const vote = model.snapshot(T0 + 500).services[0]!.realServers.find((r) => r.address === A)!.sites[0]!
      .votes[0]!;
    expect(vote).toMatchObject({
      state: "down",
      reason: "HTTP 200",
      pending: { state: "up", count: 1, needed: 2 },
    });
    expect(renderTable(model.snapshot(T0 + 500), { color: false })).toMatch(/dc1:✗↑/);
    const expired = model.snapshot(T0 + 6001).services[0]!.realServers.find((r) => r.address === A)!.sites[0]!
      .votes[0]!;
    expect(expired).toMatchObject({ state: "expired", pending: null });
  });

  it("says it in a transition's words: down, rising 1/2, last check", () => {
    const text = describeEvent({
      type: "rs-up",
      rs: A,
      weight: 1,
      tally: { by: "site", up: 2, down: 1, total: 3, upNeeded: 2, downNeeded: 2 },
      votes: [
        {
          probe: "p1",
          site: "dc1",
          state: "down",
          reason: "HTTP 200",
          pending: { state: "up", count: 1, needed: 2 },
        },
        { probe: "p2", site: "dc2", state: "up", reason: "HTTP 200" },
      ],
    });
    expect(text).toContain('dc1/p1 down, rising 1/2, last check "HTTP 200"');
    expect(text).toContain('dc2/p2 up "HTTP 200"');
  });
});
