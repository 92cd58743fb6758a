import { describe, expect, it } from "vitest";
import { type HostFacts, judgeConditions, readHostFacts } from "./host-conditions.js";

function facts(addresses: Record<string, string>, sysctls: Record<string, number>): HostFacts {
  return { addresses: new Map(Object.entries(addresses)), sysctl: (path) => sysctls[path] };
}

const HOST = { "198.51.100.1": "eth1", "192.0.2.10": "dummy0" };

describe("judgeConditions", () => {
  it("blocks every check when the source is not this host's", () => {
    const judged = judgeConditions("198.51.100.9", ["192.0.2.10"], facts(HOST, {}));
    expect(judged.blocked).toBe(
      "forwarding source 198.51.100.9 is not an address of this host (probes[].forwarding.source)",
    );
  });

  it("a VIP this host holds needs accept_local on the source's interface or on all", () => {
    const off = judgeConditions("198.51.100.1", ["192.0.2.10"], facts(HOST, {}));
    expect(off.blocked).toBeUndefined();
    expect(off.byVip.get("192.0.2.10")).toBe(
      "this host holds VIP 192.0.2.10, so replies from it are dropped as martians: set net.ipv4.conf.eth1.accept_local=1",
    );
    for (const on of ["net/ipv4/conf/all/accept_local", "net/ipv4/conf/eth1/accept_local"]) {
      expect(judgeConditions("198.51.100.1", ["192.0.2.10"], facts(HOST, { [on]: 1 })).byVip.size).toBe(0);
    }
  });

  it("and no strict rp_filter (loose and off are fine)", () => {
    const accept = { "net/ipv4/conf/eth1/accept_local": 1 };
    const strict = facts(HOST, { ...accept, "net/ipv4/conf/all/rp_filter": 1 });
    expect(judgeConditions("198.51.100.1", ["192.0.2.10"], strict).byVip.get("192.0.2.10")).toMatch(
      /^strict rp_filter on eth1 drops replies from VIP 192\.0\.2\.10/,
    );
    const loose = facts(HOST, {
      ...accept,
      "net/ipv4/conf/all/rp_filter": 1,
      "net/ipv4/conf/eth1/rp_filter": 2,
    });
    expect(judgeConditions("198.51.100.1", ["192.0.2.10"], loose).byVip.size).toBe(0);
  });

  it("a VIP held elsewhere (the backup director's case) needs neither", () => {
    const judged = judgeConditions("198.51.100.1", ["192.0.2.20"], facts(HOST, {}));
    expect(judged).toEqual({ blocked: undefined, byVip: new Map() });
  });

  it("reads this host's loopback address and a real sysctl", () => {
    const host = readHostFacts();
    expect(host.addresses.get("127.0.0.1")).toBe("lo");
    expect(host.sysctl("net/ipv4/conf/all/accept_local")).toBeTypeOf("number");
    expect(host.sysctl("net/ipv4/conf/no-such-device/accept_local")).toBeUndefined();
  });
});
