import {
  type IpvsTable,
  type RealServerEntry,
  type VirtualServiceEntry,
  virtualServiceKey,
} from "@lvsq/protocol";
import { describe, expect, it } from "vitest";
import type { IpvsOp } from "./ops.js";
import { plan } from "./plan.js";
import { renderCommands, renderRestore } from "./render.js";

function svc(
  address: string,
  realServers: RealServerEntry[] = [],
  extra: Partial<VirtualServiceEntry> = {},
): VirtualServiceEntry {
  const base = {
    protocol: "tcp" as const,
    address,
    family: address.startsWith("[") ? ("inet6" as const) : ("inet" as const),
  };
  return { key: virtualServiceKey(base), ...base, scheduler: "wrr", realServers, ...extra };
}
const rs = (address: string, weight = 1, extra: Partial<RealServerEntry> = {}): RealServerEntry => ({
  address,
  forwarding: "dr",
  weight,
  ...extra,
});
const table = (...services: VirtualServiceEntry[]): IpvsTable => ({ services });
const owned = (...t: IpvsTable[]) => new Set(t.flatMap((x) => x.services.map((s) => s.key)));
const lines = (ops: IpvsOp[]) => renderRestore(ops).trim().split("\n").filter(Boolean);

const A = "192.0.2.1:80";
const B = "192.0.2.2:80";

describe("plan", () => {
  const cases: {
    name: string;
    desired: IpvsTable;
    observed: IpvsTable;
    owned?: Set<string>;
    expected: string[];
  }[] = [
    {
      name: "equal tables: nothing",
      desired: table(svc(A, [rs("198.51.100.1:80")])),
      observed: table(svc(A, [rs("198.51.100.1:80")])),
      expected: [],
    },
    {
      name: "new service: the service before its servers",
      desired: table(svc(A, [rs("198.51.100.2:80", 2), rs("198.51.100.1:80")])),
      observed: table(),
      expected: [
        "-A -t 192.0.2.1:80 -s wrr",
        "-a -t 192.0.2.1:80 -r 198.51.100.1:80 -g -w 1",
        "-a -t 192.0.2.1:80 -r 198.51.100.2:80 -g -w 2",
      ],
    },
    {
      name: "removed owned service: its servers, then the service",
      desired: table(),
      observed: table(svc(A, [rs("198.51.100.1:80")])),
      owned: new Set([`tcp ${A}`]),
      expected: ["-d -t 192.0.2.1:80 -r 198.51.100.1:80", "-D -t 192.0.2.1:80"],
    },
    {
      name: "not owned: untouched, whether desired or observed",
      desired: table(svc(A, [rs("198.51.100.1:80")])),
      observed: table(svc(B, [rs("198.51.100.9:80")])),
      owned: new Set(),
      expected: [],
    },
    {
      name: "scheduler or persistence changed: edit the service in place",
      desired: table(svc(A, [rs("198.51.100.1:80")], { scheduler: "rr", persistence: { timeoutS: 60 } })),
      observed: table(svc(A, [rs("198.51.100.1:80")])),
      expected: ["-E -t 192.0.2.1:80 -s rr -p 60"],
    },
    {
      name: "weight changed: edit the server in place",
      desired: table(svc(A, [rs("198.51.100.1:80", 0)])),
      observed: table(svc(A, [rs("198.51.100.1:80", 5)])),
      expected: ["-e -t 192.0.2.1:80 -r 198.51.100.1:80 -g -w 0"],
    },
    {
      name: "forwarding, thresholds and tunnel changed: -e edits them too",
      desired: table(
        svc(A, [
          rs("198.51.100.1:80", 1, {
            forwarding: "tunnel",
            tunnelType: "gue",
            tunnelPort: 6080,
            upperThreshold: 9,
          }),
        ]),
      ),
      observed: table(svc(A, [rs("198.51.100.1:80")])),
      expected: [
        "-e -t 192.0.2.1:80 -r 198.51.100.1:80 -i -w 1 -x 9 --tun-type gue --tun-port 6080 --tun-nocsum",
      ],
    },
    {
      name: "within a service: edit service, delete, edit, add",
      desired: table(svc(A, [rs("198.51.100.2:80", 3), rs("198.51.100.3:80")], { scheduler: "lc" })),
      observed: table(svc(A, [rs("198.51.100.1:80"), rs("198.51.100.2:80")])),
      expected: [
        "-E -t 192.0.2.1:80 -s lc",
        "-d -t 192.0.2.1:80 -r 198.51.100.1:80",
        "-e -t 192.0.2.1:80 -r 198.51.100.2:80 -g -w 3",
        "-a -t 192.0.2.1:80 -r 198.51.100.3:80 -g -w 1",
      ],
    },
    {
      name: "kernel defaults written or omitted compare equal",
      desired: table(
        svc(A, [rs("198.51.100.1:80", 1, { forwarding: "tunnel", upperThreshold: 0 })], {
          scheduler: "sh",
          schedFlags: ["flag-2", "flag-1"],
          persistence: { timeoutS: 300, netmask: "255.255.255.255" },
          onePacket: false,
        }),
      ),
      observed: table(
        svc(A, [rs("198.51.100.1:80", 1, { forwarding: "tunnel", tunnelType: "ipip" })], {
          scheduler: "sh",
          schedFlags: ["sh-fallback", "sh-port"],
          persistence: { timeoutS: 300 },
        }),
      ),
      expected: [],
    },
    {
      name: "services in key order, each complete before the next",
      desired: table(svc(B, [rs("198.51.100.1:80")]), svc(A, [rs("198.51.100.1:80")])),
      observed: table(),
      expected: [
        "-A -t 192.0.2.1:80 -s wrr",
        "-a -t 192.0.2.1:80 -r 198.51.100.1:80 -g -w 1",
        "-A -t 192.0.2.2:80 -s wrr",
        "-a -t 192.0.2.2:80 -r 198.51.100.1:80 -g -w 1",
      ],
    },
  ];
  it.each(cases)("$name", ({ desired, observed, owned: ownedKeys, expected }) => {
    expect(lines(plan(desired, observed, ownedKeys ?? owned(desired, observed)))).toEqual(expected);
  });

  it("fwmark, fwmark6, udp, sctp and IPv6 services render their own selectors", () => {
    const fw: VirtualServiceEntry = {
      key: "fwmark6 8",
      protocol: "tcp",
      fwmark: 8,
      family: "inet6",
      scheduler: "rr",
      realServers: [rs("[2001:db8::8]:0")],
    };
    const udp = { ...svc("[2001:db8::1]:53"), protocol: "udp" as const, key: "udp [2001:db8::1]:53" };
    const sctp = { ...svc("192.0.2.6:3868"), protocol: "sctp" as const, key: "sctp 192.0.2.6:3868" };
    const desired = table(fw, udp, sctp);
    expect(lines(plan(desired, table(), owned(desired)))).toEqual([
      "-A -f 8 -6 -s rr",
      "-a -f 8 -6 -r [2001:db8::8]:0 -g -w 1",
      "-A --sctp-service 192.0.2.6:3868 -s wrr",
      "-A -u [2001:db8::1]:53 -s wrr",
    ]);
  });
});

describe("renderCommands (dry-run)", () => {
  it("prints one shell-safe ipvsadm command per op", () => {
    const desired = table(svc("[2001:db8::1]:80", [rs("[2001:db8::a]:80", 2)]));
    expect(renderCommands(plan(desired, table(), owned(desired)), "/usr/sbin/ipvsadm")).toEqual([
      "/usr/sbin/ipvsadm -A -t '[2001:db8::1]:80' -s wrr",
      "/usr/sbin/ipvsadm -a -t '[2001:db8::1]:80' -r '[2001:db8::a]:80' -g -w 2",
    ]);
  });
});
