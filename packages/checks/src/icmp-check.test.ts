import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createCheckRunner } from "./runner.js";
import { TestServers, typedCheck } from "./test-servers.js";

const servers = new TestServers();
afterEach(() => servers.closeAll());

/** A stand-in `ping` that prints what iputils prints in a case this host cannot produce, and exits. */
function fakePing(output: string, exitCode: number): string {
  const path = join(servers.tempDir(), "ping");
  writeFileSync(path, `#!/bin/sh\nprintf '%s\\n' '${output}' >&2\nexit ${exitCode}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe("icmp check", () => {
  it("is up on an echo reply from the loopback address (the system's ping)", async () => {
    const result = await createCheckRunner().run(typedCheck("icmp"), {
      address: "127.0.0.1:80",
      service: "any",
    });
    expect(result.verdict).toBe("up");
    expect(result.reason).toMatch(/^echo reply in [\d.]+ ms$/);
  });

  it("pings the host of a real server without a port (fwmark)", async () => {
    const result = await createCheckRunner().run(typedCheck("icmp"), {
      address: "127.0.0.1:0",
      service: "fw",
    });
    expect(result.verdict).toBe("up");
  });

  it("is down when ping gets no reply (exit 1)", async () => {
    const ping = fakePing("1 packets transmitted, 0 received, 100% packet loss, time 0ms", 1);
    const result = await createCheckRunner({ ping }).run(typedCheck("icmp"), {
      address: "127.0.0.1:80",
      service: "x",
    });
    expect(result).toMatchObject({ verdict: "down", reason: "no echo reply within 1000 ms" });
  });

  it("abstains when ping cannot open a socket, naming the sysctl to set", async () => {
    const ping = fakePing("ping: socktype: SOCK_RAW\nping: socket: Operation not permitted", 2);
    const result = await createCheckRunner({ ping }).run(typedCheck("icmp"), {
      address: "127.0.0.1:80",
      service: "x",
    });
    expect(result.verdict).toBe("abstain");
    expect(result.reason).toContain("net.ipv4.ping_group_range");
  });

  it("abstains when ping is missing or fails for its own reasons", async () => {
    const missing = await createCheckRunner({ ping: "/nonexistent/ping" }).run(typedCheck("icmp"), {
      address: "127.0.0.1:80",
      service: "x",
    });
    expect(missing).toMatchObject({
      verdict: "abstain",
      reason: "ping not found: /nonexistent/ping (apt-get install iputils-ping)",
    });
    const ping = fakePing("ping: connect: Network is unreachable", 2);
    const other = await createCheckRunner({ ping }).run(typedCheck("icmp"), {
      address: "127.0.0.1:80",
      service: "x",
    });
    expect(other).toMatchObject({
      verdict: "abstain",
      reason: "ping failed: ping: connect: Network is unreachable",
    });
  });

  it("abstains when cancelled", async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await createCheckRunner().run(
      typedCheck("icmp"),
      { address: "127.0.0.1:80", service: "x" },
      {
        signal: controller.signal,
      },
    );
    expect(result).toMatchObject({ verdict: "abstain", reason: "cancelled" });
  });
});
