import type { CheckTarget } from "@lvsq/checks";
import { type CheckConfig, planForwardingPins } from "@lvsq/config";
import { describe, expect, it } from "vitest";
import { forwardingRunner } from "./forwarding-runner.js";
import type { PathConditions } from "./host-conditions.js";
import { testFleet } from "./test-fleet.js";

const config = testFleet();
const plan = planForwardingPins(config, "lvs-a-path", config.probes[1]!.forwarding!);
const check = config.services.web!.check as CheckConfig;
const ok: PathConditions = { blocked: undefined, byVip: new Map() };

function recorder() {
  const seen: CheckTarget[] = [];
  const inner = async (_check: CheckConfig, target: CheckTarget) => {
    seen.push(target);
    return { verdict: "up" as const, latencyMs: 1, reason: "HTTP 200" };
  };
  return { seen, inner };
}

describe("forwardingRunner", () => {
  it("a down result is read again against fresh conditions: the host's own fault abstains", async () => {
    let fresh = 0;
    const broken: PathConditions = {
      blocked: undefined,
      byVip: new Map([["192.0.2.10", "accept_local is off"]]),
    };
    const run = forwardingRunner(
      async () => ({ verdict: "down", latencyMs: 1, reason: "timeout after 1000 ms in connect" }),
      {
        plan,
        source: "198.51.100.1",
        conditions: (again) => {
          if (!again) return ok;
          fresh++;
          return broken;
        },
        pinsProblem: () => undefined,
      },
    );
    expect(await run(check, { address: "198.51.100.11:80", service: "web" })).toMatchObject({
      verdict: "abstain",
      reason: "accept_local is off",
    });
    expect(fresh).toBe(1);
  });

  it("sends a server's check to the VIP from the source, through the ports of its block in turn", async () => {
    const { seen, inner } = recorder();
    const run = forwardingRunner(inner, {
      plan,
      source: "198.51.100.1",
      conditions: () => ok,
      pinsProblem: () => undefined,
    });
    const target = { address: "198.51.100.12:80", service: "web", weight: 1 };
    const results = [];
    for (let i = 0; i < 66; i++) results.push(await run(check, target));
    expect(results[0]).toEqual({ verdict: "up", latencyMs: 1, reason: "HTTP 200 (through 192.0.2.10:80)" });
    expect(seen[0]).toEqual({
      ...target,
      address: "192.0.2.10:80",
      bind: { address: "198.51.100.1", port: 61064 },
    });
    expect(seen.map((t) => t.bind!.port).slice(62)).toEqual([61126, 61127, 61064, 61065]);
  });

  it("abstains, without running the check, where the path cannot be tried", async () => {
    const { seen, inner } = recorder();
    let pinsProblem: string | undefined = "forwarding pins not installed: nft not found";
    let conditions: PathConditions = ok;
    const run = forwardingRunner(inner, {
      plan,
      source: "198.51.100.1",
      conditions: () => conditions,
      pinsProblem: () => pinsProblem,
    });
    const rs = { address: "198.51.100.11:80", service: "web" };
    expect(await run(check, rs)).toMatchObject({ verdict: "abstain", reason: pinsProblem });
    pinsProblem = undefined;
    conditions = { blocked: undefined, byVip: new Map([["192.0.2.10", "accept_local is off"]]) };
    expect(await run(check, rs)).toMatchObject({ verdict: "abstain", reason: "accept_local is off" });
    conditions = { blocked: "source is not here", byVip: new Map() };
    expect(await run(check, rs)).toMatchObject({ verdict: "abstain", reason: "source is not here" });
    const marked = { address: "198.51.100.31:0", service: "marked" };
    expect(await run(check, marked)).toMatchObject({
      verdict: "abstain",
      reason: "a fwmark service has no VIP to connect to",
    });
    expect(await run(check, { address: "198.51.100.99:80", service: "web" })).toMatchObject({
      verdict: "abstain",
      reason: "not in this probe's forwarding plan",
    });
    expect(seen).toEqual([]);
  });
});
