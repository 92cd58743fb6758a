import { type Bus, type BusStatus, connectNatsBus, natsAuthorization, passwordVariable } from "@lvsq/bus";
import { parseConfig } from "@lvsq/config";
import { subjects, VoteBatch } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Backend,
  type LvsqProcess,
  startBackend,
  startLvsq,
  tempConfig,
  waitFor,
} from "../harness/agents.js";
import { type NatsServerHandle, startNatsServer } from "../harness/nats.js";

// `lvsq nats-config` output in a real nats-server: each probe can publish only its own votes, so a probe
// (or whoever stole its password) cannot vote in another probe's name; directors cannot vote at all.
const quiet = createLogger({ level: "silent" });
const users = ["p1", "p2", "d1", "lvsq-operator", "lvsq-viewer"];
const password = (user: string) => `pw-${user}-${process.pid}`;

describe("per-probe NATS permissions from lvsq nats-config", () => {
  let nats: NatsServerHandle;
  let backend: Backend;
  let config: string;
  const agents: LvsqProcess[] = [];
  const buses: Bus[] = [];
  const url = (user: string) => `nats://${user}:${password(user)}@127.0.0.1:${nats.port}`;

  beforeAll(async () => {
    backend = await startBackend();
    const yaml = `cluster: auth
defaults: { check: { type: http, interval: 300ms, timeout: 200ms, rise: 1, fall: 2 } }
quorum: { startupGrace: 0s }
sites: [s1, s2]
probes: [{ id: p1, site: s1 }, { id: p2, site: s2 }]
directors: [{ id: d1 }]
services:
  web:
    vip: 192.0.2.10:80
    # loopback backends share one address: NAT keeps their ports apart (dr would make them one)
    forwarding: nat
    realServers: [{ address: ${backend.address} }]
`;
    config = tempConfig(yaml);
    // nats-server reads the passwords from its environment, as the generated block says
    for (const user of users) process.env[passwordVariable(user)] = password(user);
    nats = await startNatsServer({
      extraConfig: natsAuthorization(parseConfig(yaml, "auth.yaml", { env: {} })),
    });
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop("SIGKILL")));
    await Promise.all(buses.map((b) => b.close()));
    await backend?.close();
    await nats?.dispose();
  });

  async function client(user: string) {
    const statuses: BusStatus[] = [];
    const bus = await connectNatsBus({ servers: url(user), name: `test-${user}`, logger: quiet });
    bus.onStatus((s) => void statuses.push(s));
    buses.push(bus);
    return { bus, statuses };
  }

  it("lets probes and the director work, and drops a probe's vote in another probe's name", async () => {
    const { bus: operator } = await client("lvsq-operator");
    const seen: VoteBatch[] = [];
    operator.subscribe(subjects.allVotes("auth"), VoteBatch, (batch) => void seen.push(batch));
    const env = (user: string) => ({ LVSQ_NATS_URL: url(user) });
    agents.push(startLvsq(["director", "--config", config, "--id", "d1", "--dry-run"], env("d1")));
    agents.push(startLvsq(["probe", "--config", config, "--id", "p1"], env("p1")));
    agents.push(startLvsq(["probe", "--config", config, "--id", "p2"], env("p2")));
    await waitFor(
      "votes from both real probes",
      () => seen.some((b) => b.probe === "p1") && seen.some((b) => b.probe === "p2"),
      15_000,
    );
    await waitFor(
      "the director puts the real server in on the probes' votes",
      () => agents[0]!.logs().some((l) => l.event === "rs-up" && l.rs === backend.address),
      15_000,
    );

    // p1's password, p2's subject: the server refuses the publish and tells only the sender.
    const { bus: rogue, statuses } = await client("p1");
    const forged: VoteBatch = {
      v: 1,
      cluster: "auth",
      probe: "p2",
      site: "s2",
      service: "web",
      seq: Date.now() * 1000 + 999_999,
      sentAt: Date.now(),
      intervalMs: 300,
      votes: [{ rs: backend.address, state: "down", since: 0, latencyMs: 0, reason: "forged" }],
    };
    rogue.publish(subjects.votes("auth", "p2", "web"), forged);
    // A sentinel on p1's own subject, on the same connection: once it arrives, the forged one would have.
    rogue.publish(subjects.votes("auth", "p1", "web"), {
      ...forged,
      probe: "p1",
      site: "s1",
      votes: [{ ...forged.votes[0]!, reason: "sentinel", state: "up" }],
    });
    await waitFor("the sentinel", () => seen.some((b) => b.votes.some((v) => v.reason === "sentinel")), 5000);
    expect(seen.some((b) => b.votes.some((v) => v.reason === "forged"))).toBe(false);
    await waitFor(
      "the forger learns it was refused",
      () => statuses.some((s) => s.type === "permission-error"),
      5000,
    );

    // A director's password cannot vote either.
    const { bus: director, statuses: directorStatuses } = await client("d1");
    director.publish(subjects.votes("auth", "p1", "web"), forged);
    await waitFor(
      "the director user is refused",
      () => directorStatuses.some((s) => s.type === "permission-error"),
      5000,
    );
    expect(agents[0]!.logs().some((l) => l.event === "rs-down")).toBe(false);
  }, 60_000);
});
