import { connectNatsBus } from "@lvsq/bus";
import { buckets } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Backend,
  type LvsqProcess,
  startBackend,
  startLvsq,
  tempConfig,
  waitFor,
} from "../harness/agents.js";
import { type NatsClusterHandle, startNatsCluster } from "../harness/nats-cluster.js";
import { leaderSeenBy, rsArg, startDirector, waitForCommand } from "./status-fleet.js";

// Clustered NATS as a deployment runs it: a real 3-node nats-server cluster with JetStream and a leaf node
// for the probe's site. The directors (a pair, --dry-run) are given every node's URL; the probe talks to
// its leaf only. KV buckets get 3 replicas, so losing the node that leads them loses nothing.

const quiet = createLogger({ level: "silent" });
const VIP = "192.0.2.40:80";

async function streamReplicas(urls: string[], bucket: string) {
  const nc = await connect({ servers: urls, timeout: 2000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    const info = await jsm.streams.info(`KV_${bucket}`);
    return { replicas: info.config.num_replicas, leader: info.cluster?.leader };
  } finally {
    await nc.close();
  }
}

describe("a director pair and a probe on a 3-node NATS cluster with a leaf node", () => {
  let cluster: NatsClusterHandle;
  let a: Backend;
  let b: Backend;
  let config: string;
  let probe: LvsqProcess | undefined;
  const directors: LvsqProcess[] = [];

  beforeAll(async () => {
    cluster = await startNatsCluster({ nodes: 3, leafSites: ["s1"] });
    [a, b] = await Promise.all([startBackend(), startBackend()]);
    config = tempConfig(`cluster: c3
nats: { servers: [${cluster.urls.join(", ")}] }
defaults: { check: { type: http, path: /, interval: 300ms, timeout: 200ms, rise: 2, fall: 2 } }
quorum: { startupGrace: 1s }
sites: [s1]
probes: [{ id: p1, site: s1 }]
directors: [{ id: d1, pair: edge, }, { id: d2, pair: edge }]
director: { leaseTtl: 3s }
services:
  web:
    vip: ${VIP}
    # loopback backends share one address: NAT keeps their ports apart (dr would make them one)
    forwarding: nat
    realServers: [{ address: ${a.address} }, { address: ${b.address} }]
`);
    // The probe is given its site's leaf node only (LVSQ_NATS_URL overrides the config's servers).
    probe = startLvsq(["probe", "--config", config, "--id", "p1"], { LVSQ_NATS_URL: cluster.leafs.s1!.url });
    directors.push(await startDirector(config, "d1"));
    await waitFor("d1 leads", () => leaderSeenBy(directors[0]!) === "d1", 20_000);
    directors.push(await startDirector(config, "d2"));
    await waitFor("d2 follows d1", () => leaderSeenBy(directors[1]!) === "d1", 20_000);
    for (const d of directors)
      for (const rs of [a, b])
        await waitForCommand(d, new RegExp(`^ipvsadm -a -t ${VIP} ${rsArg(rs.address)} `), 0, 20_000);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([probe?.stop("SIGKILL"), ...directors.map((d) => d.stop("SIGKILL"))]);
    await Promise.all([a?.close(), b?.close()]);
    await cluster?.dispose();
  });

  it("creates the pair's KV buckets with 3 replicas (the default on a cluster of 3)", async () => {
    for (const bucket of [buckets.leases("c3"), buckets.desired("c3"), buckets.admin("c3")]) {
      expect((await streamReplicas(cluster.urls, bucket)).replicas, bucket).toBe(3);
    }
  });

  it("votes published on the site's leaf node reach both directors", () => {
    // The probe connected to the leaf and nothing else; both directors added a and b (beforeAll) from its
    // up votes, so the leaf carried them to the cluster.
    const connected = probe!.logs().filter((l) => l.msg === "bus: connected to NATS");
    expect(connected.map((l) => l.server)).toEqual([new URL(cluster.leafs.s1!.url).host]);
    for (const d of directors) {
      expect(d.lines.some((l) => l.includes(`ipvsadm -a -t ${VIP} -r ${b.address}`))).toBe(true);
    }
  });

  it("the node leading the desired-table bucket dies: the pair keeps deciding and a failure leaves both tables", async () => {
    const { leader } = await streamReplicas(cluster.urls, buckets.desired("c3"));
    // Nodes are named lvsq_n1..n3 in start order (nats-cluster.ts).
    const node = cluster.nodes[Number(leader?.replace("lvsq_n", "")) - 1];
    if (node === undefined) throw new Error(`no cluster node named ${leader}`);
    await node.kill();
    const from = directors.map((d) => d.lines.length);
    b.setStatus(503);
    for (const [i, d] of directors.entries()) {
      // A killed stream leader stalls JetStream writes for several seconds (measured 5-7 s): 30 s bound.
      await waitFor(
        `${["d1", "d2"][i]} removes b after the node died`,
        () => d.lines.slice(from[i]).some((l) => l.includes(`ipvsadm -d -t ${VIP} -r ${b.address}`)),
        30_000,
      );
    }
    // The bucket is still there with its records, led by a surviving node.
    const after = await streamReplicas(
      cluster.nodes.filter((n) => n.running()).map((n) => n.url),
      buckets.desired("c3"),
    );
    expect(after.replicas).toBe(3);
    expect(after.leader).not.toBe(leader);
    await node.restart();
  }, 60_000);

  it("an explicit nats.replicas is honoured, and a count the cluster cannot place is a clear error", async () => {
    const bus = await connectNatsBus({
      servers: cluster.urls,
      name: "replicas-test",
      logger: quiet,
      replicas: 1,
    });
    try {
      const kv = await bus.kv("lvsq_r1_probe");
      const revision = await kv.put("k", { n: 1 });
      expect(await kv.get("k", { fromLeader: true })).toMatchObject({ value: { n: 1 }, revision });
      expect((await streamReplicas(cluster.urls, "lvsq_r1_probe")).replicas).toBe(1);
    } finally {
      await bus.close();
    }
    const greedy = await connectNatsBus({
      servers: cluster.urls,
      name: "replicas-5",
      logger: quiet,
      replicas: 5,
    });
    try {
      await expect(greedy.kv("lvsq_r5_probe")).rejects.toThrow(/cannot place 5 replicas.*nats\.replicas/);
    } finally {
      await greedy.close();
    }
  });
});
