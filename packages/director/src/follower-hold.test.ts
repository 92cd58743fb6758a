import type { Verdict } from "@lvsq/engine";
import type { IpvsTable, VirtualServiceEntry } from "@lvsq/protocol";
import { describe, expect, it } from "vitest";
import { type FollowerView, holdBackContradicted } from "./follower-hold.js";
import { SIM_RS, simConfig } from "./pair-sim-world.js";

const config = simConfig();
const [one, two, three] = SIM_RS;
const all = { [one]: 1, [two]: 2, [three]: 3 };

function entry(members: Record<string, number>): VirtualServiceEntry {
  return {
    key: "tcp 192.0.2.10:80",
    protocol: "tcp",
    address: "192.0.2.10:80",
    family: "inet",
    scheduler: "wrr",
    realServers: Object.entries(members).map(([address, weight]) => ({ address, forwarding: "dr", weight })),
  };
}

const table = (...services: VirtualServiceEntry[]): IpvsTable => ({ services });
const evidence = (verdict: Verdict, ...rs: string[]) => new Map(rs.map((address) => [address, verdict]));

/** The leader's record has `three` out; the kernel and this follower's own decision have every server in. */
function view(overrides: Partial<FollowerView>): FollowerView {
  return {
    composed: table(entry({ [one]: 1, [two]: 2 })),
    kernel: table(entry(all)),
    config,
    takenAt: () => 1000,
    evidenceSince: () => evidence("up", ...SIM_RS),
    decision: () => entry(all),
    recordRules: () => new Map([[three, "quorum-down"]]),
    now: 50_000,
    provenStale: () => new Set<string>(),
    awaitingSince: () => undefined,
    awaitMs: 6000,
    ...overrides,
  };
}

describe("a follower weighing a leader's record against its own votes", () => {
  it("applies its own decision where votes received since the record have a server it takes out up", () => {
    const result = holdBackContradicted(view({}));
    expect(result.held).toEqual([{ service: "web", rs: [three], why: "newer-votes-up" }]);
    expect(result.table).toEqual(table(entry(all)));
  });

  it("asks for the votes received since it took the record", () => {
    const asked: number[] = [];
    const evidenceSince = (_service: string, since: number) => {
      asked.push(since);
      return new Map<string, Verdict>();
    };
    holdBackContradicted(view({ evidenceSince }));
    expect(asked).toEqual([1000]);
  });

  it("counts a quiesce (weight 0) as taking the server out", () => {
    const result = holdBackContradicted(view({ composed: table(entry({ ...all, [two]: 0 })) }));
    expect(result.held).toEqual([{ service: "web", rs: [two], why: "newer-votes-up" }]);
  });

  it("follows the record where the newer votes have the server down, or no longer up by quorum", () => {
    for (const verdict of ["down", "conflict"] as const) {
      const composed = table(entry({ [one]: 1, [two]: 2 }));
      const result = holdBackContradicted(view({ composed, evidenceSince: () => evidence(verdict, three) }));
      expect(result, verdict).toEqual({ table: composed, held: [] });
    }
    const composed = table(entry({ [one]: 1, [two]: 2 }));
    const notUp = holdBackContradicted(view({ composed, evidenceSince: () => evidence("up", one, two) }));
    expect(notUp).toEqual({ table: composed, held: [] });
  });

  it("awaits newer votes for one vote TTL when those it has decide nothing yet", () => {
    const undecided = { evidenceSince: () => evidence("fail-static", ...SIM_RS) };
    const first = holdBackContradicted(view(undecided));
    expect(first.held).toEqual([{ service: "web", rs: [three], why: "awaiting-votes" }]);
    expect(first.table).toEqual(table(entry(all)));
    const within = holdBackContradicted(view({ ...undecided, awaitingSince: () => 50_000 - 5999 }));
    expect(within.held).toHaveLength(1);
    const composed = table(entry({ [one]: 1, [two]: 2 }));
    const over = holdBackContradicted(view({ ...undecided, composed, awaitingSince: () => 50_000 - 6000 }));
    expect(over).toEqual({ table: composed, held: [] });
  });

  it("holds back only the servers its own decision keeps", () => {
    const result = holdBackContradicted(
      view({ composed: table(entry({ [one]: 1 })), decision: () => entry({ [one]: 1, [two]: 2 }) }),
    );
    expect(result.held).toEqual([{ service: "web", rs: [two], why: "newer-votes-up" }]);
    expect(result.table).toEqual(table(entry({ [one]: 1, [two]: 2 })));
  });

  it("holds nothing back for a server the kernel does not carry (an add the leader has not made yet)", () => {
    const composed = table(entry({ [one]: 1 }));
    const result = holdBackContradicted(view({ composed, kernel: table(entry({ [one]: 1 })) }));
    expect(result).toEqual({ table: composed, held: [] });
  });

  it("leaves a service the record removes, or the kernel lacks, to the record", () => {
    expect(holdBackContradicted(view({ composed: table() }))).toEqual({ table: table(), held: [] });
    expect(holdBackContradicted(view({ kernel: table() })).held).toEqual([]);
  });

  it("keeps holding what newer votes disproved once those votes stop coming, until newer ones have it down", () => {
    const proven = { provenStale: () => new Set([three]) };
    const stale = holdBackContradicted(
      view({ ...proven, evidenceSince: () => evidence("fail-static", ...SIM_RS) }),
    );
    expect(stale.held).toEqual([{ service: "web", rs: [three], why: "newer-votes-up" }]);
    // Not bounded by the vote TTL like a wait for votes: the record was shown wrong.
    const later = holdBackContradicted(
      view({ ...proven, evidenceSince: () => evidence("fail-static", ...SIM_RS), awaitingSince: () => 0 }),
    );
    expect(later.held).toHaveLength(1);
    const composed = table(entry({ [one]: 1, [two]: 2 }));
    const down = holdBackContradicted(
      view({ ...proven, composed, evidenceSince: () => evidence("down", three) }),
    );
    expect(down).toEqual({ table: composed, held: [] });
  });

  it("never keeps a server the record has out by an operator's override this follower may not have read", () => {
    for (const rule of ["admin-disable", "admin-drain"]) {
      const composed = table(entry({ [one]: 1, [two]: 2, [three]: 0 }));
      const result = holdBackContradicted(view({ composed, recordRules: () => new Map([[three, rule]]) }));
      expect(result, rule).toEqual({ table: composed, held: [] });
    }
  });

  it("keeps the rest of the service as the record has it, without its fallback server", () => {
    const recorded = entry({ "127.0.0.1:80": 1, [one]: 5 });
    const result = holdBackContradicted(
      view({
        composed: table(recorded),
        recordRules: () => new Map([[two, "quorum-down"]]),
        evidenceSince: () => evidence("up", two),
      }),
    );
    expect(result.held).toEqual([{ service: "web", rs: [two], why: "newer-votes-up" }]);
    expect(result.table).toEqual(table(entry({ [one]: 5, [two]: 2 })));
  });
});
