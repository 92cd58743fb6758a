import { describe, expect, it } from "vitest";
import { fleetPermissions, natsAuthorization, passwordVariable } from "./nats-permissions.js";
import { subjectMatches } from "./subject-match.js";

const fleet = {
  cluster: "c",
  probes: [{ id: "p1" }, { id: "p2" }],
  directors: [
    { id: "d1", pair: "x" },
    { id: "d2", pair: "x" },
    { id: "d3", pair: "y" },
    { id: "solo", pair: undefined },
  ],
};
const users = new Map(fleetPermissions(fleet).map((u) => [u.user, u]));
const may = (user: string, op: "publish" | "subscribe", subject: string) =>
  users.get(user)![op].some((pattern) => subjectMatches(pattern, subject));

describe("fleetPermissions: least privilege per user", () => {
  // [user, publish or subscribe, subject, allowed] — the subjects are the ones a real fleet used, as seen in
  // a nats-server trace (votes, status, events, KV puts and the JetStream API of 2.9).
  it.each([
    ["p1", "publish", "lvsq.c.votes.p1.web", true],
    ["p1", "publish", "lvsq.c.status.probe.p1", true],
    ["p1", "publish", "lvsq.c.votes.p2.web", false], // a forged vote
    ["p1", "publish", "lvsq.c.status.probe.p2", false],
    ["p1", "publish", "$KV.lvsq_c_admin.web.rs", false],
    ["p1", "subscribe", "lvsq.c.votes.>", false],
    ["d1", "publish", "lvsq.c.status.director.d1", true],
    ["d1", "publish", "lvsq.c.status.director.d2", false], // its partner's heartbeat
    ["d1", "publish", "lvsq.c.events.web", true],
    ["d1", "publish", "lvsq.c.votes.p1.web", false],
    ["d1", "publish", "$KV.lvsq_c_leases.x", true],
    ["d1", "publish", "$KV.lvsq_c_leases.y", false], // another pair's lease
    ["d1", "publish", "$KV.lvsq_c_desired.x.web", true],
    ["d1", "publish", "$KV.lvsq_c_desired.y.web", false],
    ["d1", "publish", "$KV.lvsq_c_admin.web.rs", false], // an admin record
    ["d1", "publish", "$JS.API.DIRECT.GET.KV_lvsq_c_admin.$KV.lvsq_c_admin.web.rs", true],
    ["d1", "publish", "$JS.API.CONSUMER.CREATE.KV_lvsq_c_admin.oc_1.$KV.lvsq_c_admin.>", true],
    ["d1", "publish", "$JS.API.STREAM.CREATE.KV_lvsq_c_leases", true],
    ["d1", "publish", "$JS.API.STREAM.UPDATE.KV_lvsq_c_leases", true],
    ["d1", "publish", "$JS.API.STREAM.UPDATE.KV_lvsq_c_admin", false],
    ["d1", "publish", "$JS.API.STREAM.DELETE.KV_lvsq_c_leases", false],
    ["d1", "publish", "$JS.API.STREAM.PURGE.KV_lvsq_c_desired", false],
    ["d1", "subscribe", "lvsq.c.votes.>", true],
    ["d1", "subscribe", "lvsq.c.explain.d1", true],
    ["d1", "subscribe", "lvsq.c.explain.d2", false], // cannot answer for its partner
    ["solo", "publish", "$KV.lvsq_c_leases.x", false],
    ["lvsq-operator", "publish", "$KV.lvsq_c_admin.web.rs", true],
    ["lvsq-operator", "publish", "$KV.lvsq_c_desired.x.web", false],
    ["lvsq-operator", "publish", "lvsq.c.votes.p1.web", false],
    ["lvsq-viewer", "publish", "$KV.lvsq_c_admin.web.rs", false], // a viewer writing an admin record
    ["lvsq-viewer", "publish", "$JS.API.STREAM.CREATE.KV_lvsq_c_admin", false],
    ["lvsq-viewer", "publish", "$JS.API.STREAM.INFO.KV_lvsq_c_desired", true],
    ["lvsq-viewer", "publish", "lvsq.c.explain.d1", true],
    ["lvsq-viewer", "publish", "lvsq.c.status.director.d1", false],
    ["lvsq-viewer", "subscribe", "lvsq.c.status.>", true],
    ["lvsq-viewer", "subscribe", "lvsq.c.explain.d1", false], // cannot answer explain requests with lies
  ] as const)("%s may %s %s: %s", (user, op, subject, allowed) => {
    expect(may(user, op, subject)).toBe(allowed);
  });

  it("lets only directors answer requests", () => {
    expect([...users.values()].filter((u) => u.allowResponses).map((u) => u.user)).toEqual([
      "d1",
      "d2",
      "d3",
      "solo",
    ]);
  });
});

describe("natsAuthorization: the nats-server block", () => {
  it("writes passwords as environment references and nkeys as public keys", () => {
    const text = natsAuthorization(fleet, { nkeys: { p2: "UABC" }, viewer: "dash" });
    expect(text).toContain(`{ user: "p1", password: $${passwordVariable("p1")}, permissions:`);
    expect(text).toContain('{ nkey: "UABC", permissions:');
    expect(text).toContain("# viewer dash");
    expect(text).toMatch(/user: "p1".*subscribe: \{ deny: \[">"\] \}/);
    expect(text).toMatch(/user: "d1".*allow_responses: true/);
    expect(text).not.toMatch(/user: "dash".*allow_responses/);
  });
});
