import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { Inbound } from "./inbound.js";
import { splitCredentials } from "./nats-connect.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { lines, logger: pino({ level: "warn" }, stream) };
}

describe("Inbound", () => {
  it("warns once per subject and reason per 10 s, with the zod issues and the suppressed count", async () => {
    let now = 0;
    const { lines, logger } = capture();
    const inbound = new Inbound(logger, () => now);
    const schema = z.object({ n: z.number() });
    const handler = () => {};
    for (let i = 0; i < 5; i++) inbound.deliver("a", '{"n":"x"}', schema, handler);
    inbound.deliver("b", "{", schema, handler);
    now = 10_000;
    inbound.deliver("a", '{"n":"x"}', schema, handler);
    await new Promise((resolve) => setImmediate(resolve));
    expect(inbound.snapshot().dropped).toEqual({ "invalid-json": 1, schema: 6, "handler-error": 0 });
    expect(lines.map((line) => [line.subject, line.reason, line.suppressed])).toEqual([
      ["a", "schema", 0],
      ["b", "invalid-json", 0],
      ["a", "schema", 4],
    ]);
    expect(lines[0]!.issues).toEqual([{ path: "n", message: expect.any(String) }]);
  });
});

describe("splitCredentials", () => {
  it("takes user:pass@ out of server URLs", () => {
    expect(splitCredentials(["nats://probe-1:s%40cret@10.0.0.1:4222", "nats://10.0.0.2:4222"])).toEqual({
      servers: ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"],
      user: "probe-1",
      pass: "s@cret",
    });
    expect(splitCredentials("nats://a:1,nats://b:2")).toEqual({ servers: ["nats://a:1", "nats://b:2"] });
  });
});
