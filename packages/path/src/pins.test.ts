import { planForwardingPins } from "@lvsq/config";
import { describe, expect, it } from "vitest";
import { nftRemoveScript, nftScript, nftTableName, pinKeys, pinTable } from "./pins.js";
import { testFleet } from "./test-fleet.js";

const config = testFleet();
const { pins } = planForwardingPins(config, "lvs-a-path", config.probes[1]!.forwarding!);

describe("pins", () => {
  it("one hidden fwmark service per real server, holding only it", () => {
    expect(pinTable(pins).services).toEqual([
      {
        key: "fwmark 1001",
        protocol: "tcp",
        fwmark: 1001,
        family: "inet",
        scheduler: "rr",
        realServers: [{ address: "198.51.100.11:80", forwarding: "dr", weight: 1 }],
      },
      {
        key: "fwmark 1002",
        protocol: "tcp",
        fwmark: 1002,
        family: "inet",
        scheduler: "rr",
        realServers: [{ address: "198.51.100.12:80", forwarding: "dr", weight: 1 }],
      },
    ]);
    expect([...pinKeys(pins)]).toEqual(["fwmark 1001", "fwmark 1002"]);
  });

  it("one nft table per probe, replaced whole: a mark per source-port block", () => {
    expect(nftTableName("lvs-a-path")).toBe("lvsq_path_lvs_a_path");
    expect(nftScript("lvsq_path_x", "198.51.100.1", pins)).toBe(
      [
        "table ip lvsq_path_x",
        "delete table ip lvsq_path_x",
        "table ip lvsq_path_x {",
        "  chain output {",
        "    type route hook output priority mangle; policy accept;",
        '    ip saddr 198.51.100.1 ip daddr 192.0.2.10 tcp dport 80 tcp sport 61000-61063 meta mark set 0x000003e9 comment "web 198.51.100.11:80"',
        '    ip saddr 198.51.100.1 ip daddr 192.0.2.10 tcp dport 80 tcp sport 61064-61127 meta mark set 0x000003ea comment "web 198.51.100.12:80"',
        "  }",
        "}",
        "",
      ].join("\n"),
    );
    expect(nftRemoveScript("lvsq_path_x")).toBe("table ip lvsq_path_x\ndelete table ip lvsq_path_x\n");
  });
});
