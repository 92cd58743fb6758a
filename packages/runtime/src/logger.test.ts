import { describe, expect, it } from "vitest";
import { createLogger, plainLine } from "./logger.js";

describe("the plain log format (commands a person runs at a terminal)", () => {
  it("writes one readable line per event: label, level, message, then the fields", () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: "warn",
      format: "plain",
      label: "lvsq status",
      destination: { write: (text: string) => lines.push(text) },
    });
    logger.info("not shown below warn");
    logger.warn(
      { servers: ["nats://127.0.0.1:1"], err: "connection refused", attempt: 1 },
      "bus: cannot connect to NATS, retrying",
    );
    logger.error({ err: new Error("boom") }, "failed");
    expect(lines).toEqual([
      "lvsq status: warning: bus: cannot connect to NATS, retrying (servers: nats://127.0.0.1:1, err: connection refused, attempt: 1)\n",
      "lvsq status: error: failed (err: boom)\n",
    ]);
  });

  it("passes a line that is not JSON through unchanged", () => {
    expect(plainLine("hello")).toBe("hello\n");
    expect(plainLine('{"level":"info","msg":"ready"}')).toBe("ready\n");
  });
});
