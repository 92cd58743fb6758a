/** The multi-site scenario's fleet: 3 sites, 4 NAT backends on :8080, short timers. */
export const MULTISITE = {
  CLUSTER: "ms",
  VIP: "192.0.2.10",
  BACKENDS: ["198.51.100.11", "198.51.100.12", "198.51.100.13", "198.51.100.14"],
  TIMERS: { intervalMs: 1000, timeoutMs: 500, fall: 2, rise: 2, voteTtlMs: 4000, reconcileMs: 3000 },
};
export type MultisiteTimers = typeof MULTISITE.TIMERS & { startupGraceMs: number };

/** The timers, every duration multiplied by the guest's time scale (test/harness/in-guest.ts). */
export function multisiteTimers(scale: number): MultisiteTimers {
  const T = MULTISITE.TIMERS;
  return {
    ...T,
    intervalMs: T.intervalMs * scale,
    timeoutMs: T.timeoutMs * scale,
    voteTtlMs: T.voteTtlMs * scale,
    reconcileMs: T.reconcileMs * scale,
    startupGraceMs: 2000 * scale,
  };
}
export const realServerOf = (host: string) => `${host}:8080`;

export function multisiteYaml(natsAddress: string, T: MultisiteTimers = multisiteTimers(1)): string {
  const { CLUSTER, VIP, BACKENDS } = MULTISITE;
  return `cluster: ${CLUSTER}
nats: { servers: ["nats://${natsAddress}:4222"] }
defaults:
  check: { type: http, path: /, interval: ${T.intervalMs}ms, timeout: ${T.timeoutMs}ms, fall: ${T.fall}, rise: ${T.rise} }
quorum: { by: site, down: majority, up: majority, voteTtl: ${T.voteTtlMs}ms, startupGrace: ${T.startupGraceMs}ms }
sites: [a, b, c]
probes:
  - { id: probe-a, site: a }
  - { id: probe-b, site: b }
  - { id: probe-c, site: c }
  - { id: probe-z, site: c }   # configured, never started: the forged-message step speaks as it
directors: [{ id: lvs-a }]
director: { reconcileInterval: ${T.reconcileMs}ms }
services:
  web:
    vip: ${VIP}:80
    scheduler: rr
    forwarding: nat
    realServers:
${BACKENDS.map((b) => `      - { address: ${realServerOf(b)}, weight: 1 }`).join("\n")}
`;
}

/**
 * 1,000 malformed or forged vote messages, 200 of each kind (unknown service and unknown real server share
 * one 200). Every well-formed one carries exactly one "down" vote, so a director that let one through would
 * show it; a director that drops them all counts 600 votes (engine and subject checks) and 400 messages
 * (bus: not JSON, failing the schema).
 *
 * The unknown-service/real-server batches speak as `probe-z`, a configured probe that never runs: a forged
 * batch with a newer seq in a live probe's name would pass the seq check and so move that probe's last
 * seq (the engine checks seq before the service: docs/decisions.md, "Votes"). That is a different attack,
 * one only NATS authorization stops (docs/operations.md, "Securing NATS").
 */
export type ForgedMessage = { kind: string; subject: string; data: string };

export function forgedMessages(cluster: string, realServer: string): ForgedMessage[] {
  const subject = (probe: string, service: string) => `lvsq.${cluster}.votes.${probe}.${service}`;
  const batch = (fields: Record<string, unknown>, rs = realServer) =>
    JSON.stringify({
      v: 1,
      cluster,
      probe: "probe-a",
      site: "a",
      service: "web",
      seq: 1,
      sentAt: Date.now(),
      intervalMs: 1000,
      votes: [{ rs, state: "down", since: Date.now(), latencyMs: 1, reason: "forged" }],
      ...fields,
    });
  const out: ForgedMessage[] = [];
  const base = Date.now() * 1000;
  for (let i = 0; i < 200; i++) {
    out.push({ kind: "bad-json", subject: subject("probe-a", "web"), data: `{"v":1,"votes":[${i}` });
    const schemaBreakers: Record<string, unknown>[] = [
      { v: 2 },
      { seq: -1 },
      { votes: [{ rs: realServer, state: "maybe", since: 0, latencyMs: 0, reason: "" }] },
      { probe: "bad probe id!" },
      { intervalMs: 0 },
    ];
    out.push({ kind: "schema", subject: subject("probe-a", "web"), data: batch(schemaBreakers[i % 5]!) });
    // Payload in probe-a's name, published on probe-b's subject: a probe speaking for another.
    out.push({
      kind: "subject-mismatch",
      subject: subject("probe-b", "web"),
      data: batch({ seq: base + i }),
    });
    if (i % 2 === 0) {
      out.push({
        kind: "unknown-service",
        subject: subject("probe-z", "nosuch"),
        data: batch({ probe: "probe-z", site: "c", service: "nosuch", seq: base + i }),
      });
    } else {
      out.push({
        kind: "unknown-real-server",
        subject: subject("probe-z", "web"),
        data: batch({ probe: "probe-z", site: "c", seq: base + i }, "198.51.100.200:8080"),
      });
    }
  }
  // Old seq in a live probe's name: a replay (its real seq is start-time × 1000 and up). First in the flood:
  // a seq below the probe's counts as a replay only while the probe's last batch is fresh (voteTtl), and a
  // director under QEMU's emulation took longer than that to read the whole flood, so replays at its end
  // were taken for a restarted probe (35 of 200, while the probe's real batches waited behind the flood).
  const replays: ForgedMessage[] = [];
  for (let i = 0; i < 200; i++)
    replays.push({ kind: "replayed-seq", subject: subject("probe-a", "web"), data: batch({ seq: 1 + i }) });
  return [...replays, ...out];
}
