import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bus, type BusStatus, connectNatsBus } from "@lvsq/bus";
import { AdminRecord, buckets, kvKeys, subjects, VoteBatch } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
import type { FleetSnapshot } from "@lvsq/status";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type Backend, type LvsqProcess, startBackend, startLvsq, waitFor } from "../harness/agents.js";
import { type NatsServerHandle, startNatsServer } from "../harness/nats.js";
import { makeTestPki, type TestPki } from "../harness/tls.js";
import { leaderSeenBy, startDirector, waitForCommand } from "./status-fleet.js";

// The fleet as an operator would secure it: a real nats-server that requires TLS with client certificates
// (`verify: true`) and knows only the nkey users `lvsq nats-config --nkeys` generated, with its least-privilege
// permissions. Every lvsq process finds its own nkey seed and client certificate through the `{id}` templates
// of the config (p2 through its own `creds` field). Then three forgeries, each refused at the broker.

const quiet = createLogger({ level: "silent" });
const identities = ["p1", "p2", "d1", "d2", "lvsq-operator", "lvsq-viewer"];
const Marked = z.looseObject({ marker: z.string() });

describe("TLS, per-agent nkeys and least-privilege permissions against a real nats-server", () => {
  const dir = mkdtempSync(join(tmpdir(), "lvsq-tls-e2e-"));
  let pki: TestPki;
  let nats: NatsServerHandle;
  let backend: Backend;
  let config: string;
  const agents: LvsqProcess[] = [];
  const buses: Bus[] = [];
  const directors = new Map<string, LvsqProcess>();

  const fleet = (port: number) => `cluster: tls
nats:
  servers: [tls://127.0.0.1:${port}]
  creds: "${dir}/nkeys/{id}.nk"
  tls: { ca: ${pki.ca}, cert: "${pki.dir}/{id}.pem", key: "${pki.dir}/{id}.key" }
defaults: { check: { type: http, interval: 300ms, timeout: 200ms, rise: 1, fall: 2 } }
quorum: { startupGrace: 0s }
sites: [s1, s2]
probes: [{ id: p1, site: s1 }, { id: p2, site: s2, creds: ${dir}/nkeys/p2.nk }]
directors: [{ id: d1, pair: edge }, { id: d2, pair: edge }]
services:
  web:
    vip: 192.0.2.10:80
    forwarding: nat
    realServers: [{ address: ${backend.address} }]
`;

  /** A client of the test, logged in as `identity` with its own seed and certificate. */
  async function client(identity: string, tls: { cert?: boolean } = {}) {
    const statuses: BusStatus[] = [];
    const bus = await connectNatsBus({
      servers: `tls://127.0.0.1:${nats.port}`,
      name: `test-${identity}`,
      logger: quiet,
      creds: join(dir, "nkeys", `${identity}.nk`),
      tls: {
        ca: pki.ca,
        ...(tls.cert === false
          ? {}
          : { cert: join(pki.dir, `${identity}.pem`), key: join(pki.dir, `${identity}.key`) }),
      },
    });
    bus.onStatus((s) => void statuses.push(s));
    buses.push(bus);
    const refused = (subject: string) =>
      statuses.some(
        (s) => s.type === "permission-error" && s.operation === "publish" && s.subject === subject,
      );
    return { bus, statuses, refused };
  }

  const lvsq = async (args: string[]) => {
    const run = startLvsq(args);
    const exit = await run.exited;
    return { code: exit.code, text: run.lines.join("\n") };
  };

  beforeAll(async () => {
    pki = makeTestPki(join(dir, "pki"), identities);
    backend = await startBackend();
    // nats-config reads only ids from the config, so the port can be filled in once the server runs.
    config = join(dir, "fleet.yaml");
    writeFileSync(config, fleet(1));
    const generated = await lvsq(["nats-config", "--config", config, "--nkeys", join(dir, "nkeys")]);
    expect(generated.code, generated.text).toBe(0);
    const authorization = generated.text.slice(generated.text.indexOf("authorization {"));
    const block = authorization.slice(0, authorization.indexOf("\n}\n") + 2);
    expect(block.match(/nkey: "U[A-Z2-7]{55}"/g)?.length).toBe(identities.length);
    nats = await startNatsServer({
      extraConfig: [
        `tls { cert_file: ${JSON.stringify(pki.serverCert)}, key_file: ${JSON.stringify(pki.serverKey)},`,
        `      ca_file: ${JSON.stringify(pki.ca)}, verify: true, timeout: 2 }`,
        block,
      ].join("\n"),
    });
    writeFileSync(config, fleet(nats.port));
    agents.push(startLvsq(["probe", "--config", config, "--id", "p1"]));
    agents.push(startLvsq(["probe", "--config", config, "--id", "p2"]));
    directors.set("d1", await startDirector(config, "d1"));
    await waitFor("d1 leads", () => leaderSeenBy(directors.get("d1")!) === "d1", 15_000);
    directors.set("d2", await startDirector(config, "d2"));
    await waitFor("d2 follows d1", () => leaderSeenBy(directors.get("d2")!) === "d1", 15_000);
    for (const id of ["d1", "d2"]) await waitForCommand(directors.get(id)!, /^ipvsadm -a /, 0, 15_000);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([...agents, ...directors.values()].map((a) => a.stop("SIGKILL")));
    await Promise.all(buses.map((b) => b.close()));
    await backend?.close();
    await nats?.dispose();
    rmSync(dir, { recursive: true, force: true }); // the seeds and keys of this run
  });

  it("runs the fleet: probes vote, the pair shares one table, status and explain read, admin writes", async () => {
    const status = await lvsq(["status", "--config", config, "--json", "--wait", "6s"]);
    expect(status.code, status.text).toBe(0);
    const snapshot = JSON.parse(status.text) as FleetSnapshot;
    expect(snapshot.probes.map((p) => [p.id, p.freshness])).toEqual([
      ["p1", "fresh"],
      ["p2", "fresh"],
    ]);
    expect(snapshot.directors.map((d) => [d.id, d.role, d.digestMismatch])).toEqual([
      ["d1", "leader", false],
      ["d2", "follower", false],
    ]);
    const rs = snapshot.services[0]!.realServers[0]!;
    expect(rs).toMatchObject({ address: backend.address, state: "up" });

    const explain = await lvsq(["explain", "--config", config, "web", "--director", "d2", "--json"]);
    expect(explain.code, explain.text).toBe(0);
    expect(JSON.parse(explain.text)).toMatchObject({ director: "d2", role: "follower" });

    const drain = await lvsq([
      "admin",
      "drain",
      "web",
      backend.address,
      "--config",
      config,
      "--reason",
      "tls e2e",
    ]);
    expect(drain.code, drain.text).toBe(0);
    const weightZero = new RegExp(`^ipvsadm -e .*${backend.address.replace(/\./g, "\\.")} .*-w 0$`);
    for (const id of ["d1", "d2"]) await waitForCommand(directors.get(id)!, weightZero, 0, 10_000);
    const enable = await lvsq(["admin", "enable", "web", backend.address, "--config", config]);
    expect(enable.code, enable.text).toBe(0);
  }, 60_000);

  it("refuses a client without a certificate, and a plaintext one, before any login", async () => {
    const { bus } = await client("lvsq-viewer", { cert: false });
    expect(bus.isConnected()).toBe(false);
    const plain = await connectNatsBus({
      servers: `nats://127.0.0.1:${nats.port}`,
      name: "test-plain",
      logger: quiet,
      creds: join(dir, "nkeys", "lvsq-viewer.nk"),
    });
    buses.push(plain);
    expect(plain.isConnected()).toBe(false);
  }, 20_000);

  it("drops a probe's vote in another probe's name at the broker", async () => {
    const viewer = await client("lvsq-viewer");
    const seen: VoteBatch[] = [];
    viewer.bus.subscribe(subjects.allVotes("tls"), VoteBatch, (batch) => void seen.push(batch));
    const rogue = await client("p1");
    const forged: VoteBatch = {
      v: 1,
      cluster: "tls",
      probe: "p2",
      site: "s2",
      service: "web",
      seq: Date.now() * 1000 + 999_999,
      sentAt: Date.now(),
      intervalMs: 300,
      votes: [{ rs: backend.address, state: "down", since: 0, latencyMs: 0, reason: "forged" }],
    };
    rogue.bus.publish(subjects.votes("tls", "p2", "web"), forged);
    // A sentinel on p1's own subject, on the same connection: once it arrived, the forged one would have.
    rogue.bus.publish(subjects.votes("tls", "p1", "web"), {
      ...forged,
      probe: "p1",
      site: "s1",
      votes: [{ ...forged.votes[0]!, state: "up", reason: "sentinel" }],
    });
    await waitFor("the sentinel vote", () => seen.some((b) => b.votes[0]?.reason === "sentinel"), 5000);
    await waitFor(
      "p1 learns the forged vote was refused",
      () => rogue.refused(subjects.votes("tls", "p2", "web")),
      5000,
    );
    expect(seen.some((b) => b.votes[0]?.reason === "forged")).toBe(false);
    for (const d of directors.values()) expect(d.logs().some((l) => l.event === "rs-down")).toBe(false);
  }, 20_000);

  it("drops a director's heartbeat in its partner's name at the broker", async () => {
    const viewer = await client("lvsq-viewer");
    const seen: string[] = [];
    viewer.bus.subscribe(subjects.allDirectorStatus("tls"), Marked, (m) => void seen.push(m.marker));
    const rogue = await client("d1");
    rogue.bus.publish(subjects.directorStatus("tls", "d2"), { marker: "forged" });
    rogue.bus.publish(subjects.directorStatus("tls", "d1"), { marker: "sentinel" });
    await waitFor("the sentinel heartbeat", () => seen.includes("sentinel"), 5000);
    await waitFor(
      "d1 learns it was refused",
      () => rogue.refused(subjects.directorStatus("tls", "d2")),
      5000,
    );
    expect(seen).not.toContain("forged");
  }, 20_000);

  it("refuses an admin record written by the viewer at the broker, and the operator's bucket has none", async () => {
    const viewer = await client("lvsq-viewer");
    const bucket = buckets.admin("tls");
    const key = kvKeys.admin("web", backend.address);
    const record: AdminRecord = {
      v: 1,
      service: "web",
      rs: backend.address,
      action: "disable",
      author: "viewer@test",
      reason: "forged",
      at: Date.now(),
    };
    const kv = await viewer.bus.kv(bucket);
    await expect(kv.put(key, record)).rejects.toThrow();
    await waitFor("the viewer learns it was refused", () => viewer.refused(`$KV.${bucket}.${key}`), 5000);
    const operator = await client("lvsq-operator");
    const entry = await (await operator.bus.kv(bucket)).get(key);
    expect(AdminRecord.safeParse(entry?.value).data?.reason).not.toBe("forged");
    for (const d of directors.values())
      expect(d.logs().some((l) => l.event === "admin-applied" && l.action === "disable")).toBe(false);
  }, 20_000);

  it("gives every agent its own seed file, never readable by others", () => {
    for (const id of identities) {
      const file = join(dir, "nkeys", `${id}.nk`);
      expect(readFileSync(file, "utf8")).toMatch(/^SU[A-Z2-7]{56}\n$/);
      expect(statSync(file).mode & 0o077).toBe(0);
    }
  });
});
