import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LeaseRecord } from "@lvsq/bus";
import { parseConfig } from "@lvsq/config";
import { type EngineEvent, initialState, serviceReasons, step } from "@lvsq/engine";
import {
  AdminRecord,
  DesiredRecord,
  DirectorHeartbeat,
  EventEnvelope,
  ProbeHeartbeat,
  VoteBatch,
} from "@lvsq/protocol";
import { describe, expect, it } from "vitest";
import type { ZodType } from "zod";

// The samples in docs/protocol.md are what the code sends: each parses with its schema and loses no field
// (zod strips keys it does not know, so a documented field the code lacks shows up as a difference), and the
// loosely typed parts (an event's body, a desired record's reasons) have exactly the keys the engine writes.
const root = new URL("../../", import.meta.url).pathname;
const doc = readFileSync(join(root, "docs/protocol.md"), "utf8");

function sample(heading: string): unknown {
  const start = doc.indexOf(`### ${heading}`);
  if (start < 0) throw new Error(`docs/protocol.md has no "### ${heading}" sample`);
  const block = /```json\n([\s\S]*?)\n```/.exec(doc.slice(start));
  return JSON.parse(block![1]!);
}

const keys = (value: unknown) => Object.keys(value as object).sort();

/** A real rs-down from the engine, and the reasons it writes, for a fleet like the samples'. */
function engineOutput() {
  const config = parseConfig(
    `cluster: edge-eu
quorum: { startupGrace: 0s }
sites: [dc1, dc2, dc3]
probes: [{ id: p1, site: dc1 }, { id: p2, site: dc2 }, { id: p3, site: dc3 }]
services:
  web: { vip: 192.0.2.1:80, realServers: [{ address: 198.51.100.1:80 }] }
`,
    "samples.yaml",
    { env: {} },
  );
  let state = initialState(config, "lvs-a");
  const events: EngineEvent[] = [];
  let seq = 0;
  const vote = (probe: string, site: string, voteState: "up" | "down", now: number) => {
    const result = step(state, {
      type: "votes",
      now,
      batch: {
        v: 1,
        cluster: "edge-eu",
        probe,
        site,
        service: "web",
        seq: ++seq,
        sentAt: now,
        intervalMs: 1000,
        votes: [{ rs: "198.51.100.1:80", state: voteState, since: now, latencyMs: 1, reason: "r" }],
      },
    });
    state = result.state;
    events.push(...result.events);
  };
  for (const [p, site] of [
    ["p1", "dc1"],
    ["p2", "dc2"],
    ["p3", "dc3"],
  ] as const)
    vote(p, site, "up", 1000);
  vote("p1", "dc1", "down", 2000);
  vote("p2", "dc2", "down", 2000);
  const down = events.find((e) => e.type === "rs-down");
  return { down, reasons: serviceReasons(state, "web", 2000) };
}

describe("docs/protocol.md samples match the code", () => {
  it.each<[string, ZodType]>([
    ["Vote batch", VoteBatch],
    ["Probe heartbeat", ProbeHeartbeat],
    ["Director heartbeat", DirectorHeartbeat],
    ["Event envelope", EventEnvelope],
    ["Desired record", DesiredRecord],
    ["Admin record", AdminRecord],
    ["Lease record", LeaseRecord],
  ])("%s parses with its schema and keeps every field", (heading, schema) => {
    const value = sample(heading);
    const parsed = schema.safeParse(value);
    expect(parsed.success, parsed.success ? "" : String(parsed.error)).toBe(true);
    expect(parsed.data).toEqual(value);
  });

  it("the event body has the fields of the engine's rs-down, and so do its tally and votes", () => {
    const { down } = engineOutput();
    const body = (sample("Event envelope") as { event: Record<string, unknown> }).event;
    expect(down).toBeDefined();
    expect(keys(body)).toEqual(keys(down));
    const real = down as Extract<EngineEvent, { type: "rs-down" }>;
    expect(keys(body.tally)).toEqual(keys(real.tally));
    for (const vote of body.votes as object[]) expect(keys(vote)).toEqual(keys(real.votes[0]));
  });

  it("the desired record's reasons have the fields the engine writes", () => {
    const { reasons } = engineOutput();
    const documented = (sample("Desired record") as { reasons: object[] }).reasons;
    for (const reason of documented) expect(keys(reason)).toEqual(keys(reasons[0]));
  });
});
