import { readFileSync } from "node:fs";
import { LvsqError } from "@lvsq/protocol";
import { describe, expect, it } from "vitest";
import { renderSave } from "./render.js";
import { parseSave } from "./save-parser.js";
import { mergeThresholds, parseThresholds } from "./thresholds-parser.js";

// Fixtures are real `ipvsadm -S -n` / `ipvsadm -L -n --thresholds` output captured inside the UML test guest (Linux 6.1).
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
const SAVE_FIXTURES = ["save-rich.txt", "save-mixed.txt"];

describe("parseSave round trip", () => {
  it.each(SAVE_FIXTURES)("%s: render(parse(text)) is the text, byte for byte", (name) => {
    const text = fixture(name);
    expect(renderSave(parseSave(text))).toBe(text);
  });

  it.each(SAVE_FIXTURES)("%s: parse(render(parse(text))) equals parse(text)", (name) => {
    const table = parseSave(fixture(name));
    expect(parseSave(renderSave(table))).toEqual(table);
  });

  it("an empty table is an empty list", () => {
    expect(parseSave("")).toEqual({ services: [] });
  });
});

describe("parseSave reads every option ipvsadm writes", () => {
  const table = parseSave(fixture("save-rich.txt"));
  const service = (key: string) => {
    const found = table.services.find((s) => s.key === key);
    if (found === undefined) throw new Error(`no ${key}`);
    return found;
  };

  it("tcp NAT with weights", () => {
    expect(service("tcp 192.0.2.1:80")).toEqual({
      key: "tcp 192.0.2.1:80",
      protocol: "tcp",
      address: "192.0.2.1:80",
      family: "inet",
      scheduler: "rr",
      realServers: [
        { address: "127.0.0.2:8080", forwarding: "nat", weight: 3 },
        { address: "127.0.0.3:8080", forwarding: "nat", weight: 0 },
      ],
    });
  });

  it("persistence with a netmask, DR", () => {
    const s = service("tcp 192.0.2.2:443");
    expect(s.persistence).toEqual({ timeoutS: 600, netmask: "255.255.255.0" });
    expect(s.realServers.map((rs) => rs.forwarding)).toEqual(["dr", "dr"]);
  });

  it("scheduler flags, persistence engine, one-packet scheduling", () => {
    expect(service("udp 192.0.2.3:53").schedFlags).toEqual(["sh-fallback", "sh-port"]);
    expect(service("udp 192.0.2.4:5060")).toMatchObject({
      scheduler: "sed",
      persistence: { timeoutS: 30 },
      persistenceEngine: "sip",
      onePacket: true,
      schedFlags: ["flag-3"],
    });
  });

  it("tunnel types, ports and checksums", () => {
    expect(service("udp 192.0.2.5:4789").realServers).toEqual([
      {
        address: "198.51.100.9:4789",
        forwarding: "tunnel",
        weight: 2,
        tunnelType: "gue",
        tunnelPort: 6080,
        tunnelChecksum: "remcsum",
      },
      {
        address: "198.51.100.10:4789",
        forwarding: "tunnel",
        weight: 1,
        tunnelType: "gre",
        tunnelChecksum: "nocsum",
      },
      {
        address: "198.51.100.11:4789",
        forwarding: "tunnel",
        weight: 1,
        tunnelType: "gre",
        tunnelChecksum: "csum",
      },
      { address: "198.51.100.12:4789", forwarding: "tunnel", weight: 1, tunnelType: "ipip" },
    ]);
  });

  it("sctp, IPv6, fwmark and fwmark6", () => {
    expect(service("sctp 192.0.2.6:3868").realServers[0]?.weight).toBe(65535);
    expect(service("tcp [2001:db8::1]:80")).toMatchObject({ family: "inet6", address: "[2001:db8::1]:80" });
    expect(service("sctp [2001:db8::1]:3868").scheduler).toBe("ovf");
    expect(service("fwmark 7")).toMatchObject({ fwmark: 7, family: "inet", persistence: { timeoutS: 360 } });
    expect(service("fwmark 7").address).toBeUndefined();
    expect(service("fwmark 7").realServers.map((rs) => rs.address)).toEqual([
      "198.51.100.14:0",
      "198.51.100.15:80",
    ]);
    expect(service("fwmark6 8")).toMatchObject({
      family: "inet6",
      persistence: { timeoutS: 20, netmask: "64" },
      realServers: [{ address: "[2001:db8::8]:0", forwarding: "dr", weight: 4 }],
    });
  });

  it("long option forms, -x/-y and defaults (-s wlc, -w 1, -g, -p 360)", () => {
    const long = parseSave(
      "--add-service --tcp-service 192.0.2.9:80 --persistent\n" +
        "--add-server --tcp-service 192.0.2.9:80 --real-server 198.51.100.1:80 --u-threshold 9 --l-threshold 2\n",
    );
    expect(long.services[0]).toMatchObject({
      scheduler: "wlc",
      persistence: { timeoutS: 360 },
      realServers: [
        { address: "198.51.100.1:80", forwarding: "dr", weight: 1, upperThreshold: 9, lowerThreshold: 2 },
      ],
    });
  });

  it("canonicalises IPv6 text the way the kernel prints it", () => {
    const t = parseSave(
      "-A -t [2001:DB8:0:0::1]:80 -s rr\n-a -t [2001:db8::1]:80 -r [2001:db8:0::a]:80 -m -w 1\n",
    );
    expect(t.services[0]?.key).toBe("tcp [2001:db8::1]:80");
    expect(t.services[0]?.realServers[0]?.address).toBe("[2001:db8::a]:80");
  });
});

describe("parseSave errors name the line", () => {
  const cases: [string, string, RegExp][] = [
    ["unknown command", "-A -t 192.0.2.1:80 -s rr\n-X nonsense\n", /line 2: .*"-X nonsense"/],
    ["unknown option", "-A -t 192.0.2.1:80 -s rr --bogus\n", /line 1: unknown option --bogus/],
    ["server before service", "-a -t 192.0.2.1:80 -r 10.0.0.1:80 -g -w 1\n", /line 1: real server before/],
    ["bad address", "-A -t 192.0.2.300:80 -s rr\n", /line 1: -t expects/],
    ["missing value", "-A -t 192.0.2.1:80 -s\n", /line 1: -s needs a value/],
    ["no service spec", "-A -s rr\n", /line 1: expected exactly one/],
    ["server option on a service line", "-A -t 192.0.2.1:80 -s rr -w 3\n", /-w does not belong on a -A line/],
    [
      "bad weight",
      "-A -t 192.0.2.1:80\n-a -t 192.0.2.1:80 -r 10.0.0.1:80 -w x\n",
      /line 2: -w expects an integer/,
    ],
    [
      "duplicate service",
      "-A -t 192.0.2.1:80\n-A -t 192.0.2.1:80\n",
      /line 2: virtual service tcp 192.0.2.1:80 listed twice/,
    ],
  ];
  it.each(cases)("%s", (_name, text, message) => {
    let caught: unknown;
    try {
      parseSave(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LvsqError);
    expect((caught as LvsqError).code).toBe("ipvs_parse");
    expect((caught as LvsqError).message).toMatch(message);
  });
});

describe("parseThresholds", () => {
  it("reads -x/-y that ipvsadm -S does not write, and merges them", () => {
    const table = mergeThresholds(
      parseSave(fixture("save-rich.txt")),
      parseThresholds(fixture("thresholds-rich.txt")),
    );
    const rs = (key: string, address: string) =>
      table.services.find((s) => s.key === key)?.realServers.find((r) => r.address === address);
    expect(rs("tcp 192.0.2.1:80", "127.0.0.3:8080")).toMatchObject({ upperThreshold: 50, lowerThreshold: 5 });
    expect(rs("tcp 192.0.2.1:80", "127.0.0.2:8080")).not.toHaveProperty("upperThreshold");
    expect(rs("tcp [2001:db8::1]:80", "[2001:db8::a]:80")).toMatchObject({ upperThreshold: 7 });
    expect(rs("tcp [2001:db8::1]:80", "[2001:db8::a]:80")).not.toHaveProperty("lowerThreshold");
  });

  it("keys fwmark6 services apart from fwmark ones", () => {
    const map = parseThresholds(fixture("thresholds-rich.txt"));
    expect([...map.keys()]).toContain("fwmark6 8");
    expect([...map.keys()]).toContain("fwmark 7");
  });

  it("rejects lines it does not know", () => {
    expect(() => parseThresholds("XYZ 1.2.3.4:80 rr\n")).toThrow(/line 1/);
  });
});

describe("parseThresholds: connection counts", () => {
  it("reads active and inactive connections per destination", async () => {
    const { parseThresholds } = await import("./thresholds-parser.js");
    const text = [
      "IP Virtual Server version 1.2.1 (size=4096)",
      "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn",
      "  -> RemoteAddress:Port",
      "TCP  192.0.2.1:80 rr",
      "  -> 127.0.0.2:8080               0          0          3          7",
    ].join("\n");
    expect(parseThresholds(text).get("tcp 192.0.2.1:80")?.get("127.0.0.2:8080")).toEqual({
      upper: 0,
      lower: 0,
      active: 3,
      inactive: 7,
    });
  });
});
