import { describe, expect, it } from "vitest";
import { clusterNodes, natsClusterNodeConfig, natsLeafConfig } from "./nats-server-config.js";

const fleet = (servers: string[], extra: { tls?: unknown; replicas?: number } = {}) => ({
  cluster: "edge",
  nats: { servers, ...extra },
  sites: ["dc1", "dc2"],
});

describe("nats-server configs from a fleet's nats.servers", () => {
  it("reads host and client port of every URL kind, 4222 when none is written", () => {
    expect(
      clusterNodes(fleet(["nats://a.example:4333", "tls://[2001:db8::1]:4222", "nats://b.example"])),
    ).toEqual([
      { host: "a.example", port: 4333 },
      { host: "2001:db8::1", port: 4222 },
      { host: "b.example", port: 4222 },
    ]);
  });

  it("gives a single server no cluster block and one replica; a cluster routes to every node", () => {
    const single = natsClusterNodeConfig(fleet(["nats://198.51.100.1:4222"]), 1);
    expect(single).not.toContain("cluster {");
    expect(single).toContain("1 replica.");
    const three = ["nats://198.51.100.1:4222", "nats://198.51.100.2:4222", "nats://198.51.100.3:4222"];
    const node = natsClusterNodeConfig(fleet(three), 3);
    expect(node).toContain("server_name: lvsq-nats-3");
    expect(node.match(/nats-route:\/\/198\.51\.100\.\d:6222/g)).toHaveLength(3);
    expect(node).toContain("3 replicas, so any one node can be lost");
    expect(natsClusterNodeConfig(fleet(three, { replicas: 1 }), 1)).toContain("1 replica.");
  });

  it("adds the client TLS block when the fleet uses TLS", () => {
    expect(natsClusterNodeConfig(fleet(["tls://198.51.100.1:4222"], { tls: {} }), 1)).toContain(
      "verify: true",
    );
    expect(natsClusterNodeConfig(fleet(["nats://198.51.100.1:4222"]), 1)).not.toContain("tls {");
  });

  it("points a site's leaf node at every cluster node's leaf port, and names the sites it has", () => {
    const leaf = natsLeafConfig(fleet(["nats://198.51.100.1:4222", "nats://[2001:db8::2]:4222"]), "dc2");
    expect(leaf).toContain("server_name: lvsq-leaf-dc2");
    expect(leaf).toContain("urls: [ nats-leaf://198.51.100.1:7422, nats-leaf://[2001:db8::2]:7422 ]");
    expect(() => natsLeafConfig(fleet(["nats://198.51.100.1:4222"]), "dc9")).toThrow("sites: dc1, dc2");
    expect(() => natsClusterNodeConfig(fleet(["nats://198.51.100.1:4222"]), 2)).toThrow("1-1");
  });
});
