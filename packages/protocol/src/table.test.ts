import { describe, expect, it } from "vitest";
import { type IpvsTable, tableDigest } from "./table.js";

describe("tableDigest", () => {
  it("does not depend on the order of services, real servers or object keys", () => {
    const built: IpvsTable = {
      services: [
        {
          key: "tcp 192.0.2.10:80",
          protocol: "tcp",
          address: "192.0.2.10:80",
          family: "inet",
          scheduler: "wlc",
          realServers: [
            { address: "127.0.0.1:1", weight: 0, forwarding: "dr" },
            { address: "127.0.0.1:2", weight: 3, forwarding: "dr" },
          ],
        },
      ],
    };
    // The same table as a kernel read builds it: other field order, other real server order.
    const read: IpvsTable = {
      services: [
        {
          key: "tcp 192.0.2.10:80",
          protocol: "tcp",
          family: "inet",
          scheduler: "wlc",
          address: "192.0.2.10:80",
          realServers: [
            { address: "127.0.0.1:2", forwarding: "dr", weight: 3 },
            { address: "127.0.0.1:1", forwarding: "dr", weight: 0 },
          ],
        },
      ],
    };
    expect(tableDigest(read)).toBe(tableDigest(built));
    const changed = structuredClone(read);
    changed.services[0]!.realServers[0]!.weight = 1;
    expect(tableDigest(changed)).not.toBe(tableDigest(built));
  });
});
