import { afterEach, describe, expect, it } from "vitest";
import { parseAgentReply } from "./agent-check.js";
import { createCheckRunner } from "./runner.js";
import { TestServers, typedCheck } from "./test-servers.js";

const servers = new TestServers();
const runner = createCheckRunner();
afterEach(() => servers.closeAll());

/** An agent-check server on 127.0.0.1 (HAProxy's protocol): answers one line, then closes. */
const agent = (answer: string | ((request: string) => string)) =>
  servers.tcp((socket) => {
    if (typeof answer === "string") socket.end(answer);
    else socket.once("data", (data) => socket.end(answer(data.toString())));
  });
const target = (address: string, weight = 10) => ({ address, service: "app", weight });

describe("agent check against a real agent-check server on 127.0.0.1", () => {
  it("reads up, NN% of the configured weight, drain and down", async () => {
    expect(await runner.run(typedCheck("agent"), target(await agent("up\n")))).toMatchObject({
      verdict: "up",
      reason: "agent: up",
    });
    const half = await runner.run(typedCheck("agent"), target(await agent("ready 50%\n"), 8));
    expect(half).toMatchObject({ verdict: "up", weight: 4 });
    const drain = await runner.run(typedCheck("agent"), target(await agent("drain\n")));
    expect(drain).toMatchObject({ verdict: "up", weight: 0, reason: "agent: drain" });
    const down = await runner.run(typedCheck("agent"), target(await agent("down #disk full\n")));
    expect(down).toMatchObject({ verdict: "down", reason: "agent: down # disk full" });
    const maint = await runner.run(typedCheck("agent"), target(await agent("maint")));
    expect(maint).toMatchObject({ verdict: "down", reason: "agent: maint" });
  });

  it("sends `send` first (HAProxy agent-send)", async () => {
    const address = await agent((request) => (request === "status web\n" ? "75%\n" : "down\n"));
    const result = await runner.run(typedCheck("agent", { send: "status web\n" }), target(address, 4));
    expect(result).toMatchObject({ verdict: "up", weight: 3 });
  });

  it("abstains on an answer it does not understand, is down when the agent does not answer", async () => {
    const result = await runner.run(typedCheck("agent"), target(await agent("banana\n")));
    expect(result).toMatchObject({ verdict: "abstain", reason: 'agent reply not understood: "banana"' });
    expect(await runner.run(typedCheck("agent"), target(await servers.refusingAddress()))).toMatchObject({
      verdict: "down",
      reason: "connect ECONNREFUSED",
    });
    const silent = await servers.tcp(() => {});
    expect(await runner.run(typedCheck("agent", { timeoutMs: 300 }), target(silent))).toMatchObject({
      verdict: "down",
      reason: "timeout after 300 ms in reply",
    });
    const closed = await agent("");
    expect(await runner.run(typedCheck("agent"), target(closed))).toMatchObject({
      verdict: "down",
      reason: "agent closed without a reply",
    });
  });

  it.each([
    ["up", ["up", undefined]],
    ["UP, 100%", ["up", 10]],
    ["0%", ["up", 0]],
    ["stopped", ["down", undefined]],
    ["fail#oops", ["down", undefined]],
    ["maxconn:30 up", ["up", undefined]],
    ["150%", ["up", 10]],
    ["", ["abstain", undefined]],
  ] as const)("parses %j", (line, [verdict, weight]) => {
    const [v, , w] = parseAgentReply(line, 10);
    expect([v, w]).toEqual([verdict, weight]);
  });
});
