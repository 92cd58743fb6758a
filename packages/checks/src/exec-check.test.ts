import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EXEC_KILL_DELAY_MS } from "./exec-check.js";
import { createCheckRunner } from "./runner.js";
import { TestServers, execCheck } from "./test-servers.js";

const servers = new TestServers();
const runner = createCheckRunner();
afterEach(() => servers.closeAll());

const target = { address: "192.0.2.7:8080", service: "app" };
const sh = (script: string, overrides = {}) => execCheck(["sh", "-c", script], overrides);

describe("exec check", () => {
  it("is up on exit 0 and down on exit 1", async () => {
    expect(await runner.run(sh("exit 0"), target)).toMatchObject({ verdict: "up", reason: "exit 0" });
    expect(await runner.run(sh("echo unhealthy; exit 1"), target)).toMatchObject({
      verdict: "down",
      reason: "exit 1",
      detail: "unhealthy",
    });
  });

  it("is up with weight = code − 2 on exit 2..255", async () => {
    const two = await runner.run(sh("exit 2"), target);
    expect(two).toMatchObject({ verdict: "up", reason: "exit 2", weight: 0 });
    expect(await runner.run(sh("exit 12"), target)).toMatchObject({ verdict: "up", weight: 10 });
    expect(await runner.run(sh("exit 255"), target)).toMatchObject({ verdict: "up", weight: 253 });
  });

  it("passes the target and the check's env", async () => {
    const check = sh('echo "$LVSQ_RS $LVSQ_RS_HOST $LVSQ_RS_PORT $LVSQ_SERVICE $EXTRA"', {
      env: { EXTRA: "yes" },
    });
    const result = await runner.run(check, target);
    expect(result.detail).toBe("192.0.2.7:8080 192.0.2.7 8080 app yes");
    const v6 = await runner.run(sh('echo "$LVSQ_RS_HOST $LVSQ_RS_PORT"', { port: 9000 }), {
      address: "[2001:db8::1]:80",
      service: "app",
    });
    expect(v6.detail).toBe("2001:db8::1 9000");
  });

  it("cuts the output to 256 bytes", async () => {
    const result = await runner.run(sh("for i in $(seq 300); do printf 'é'; done; exit 1"), target);
    expect(result.verdict).toBe("down");
    expect(Buffer.byteLength(result.detail ?? "")).toBeLessThanOrEqual(256);
    expect(result.detail).not.toContain("\uFFFD");
  });

  it("kills a script at the timeout, children included, and votes down", async () => {
    const startedAt = performance.now();
    const result = await runner.run(sh("sleep 10; echo late", { timeoutMs: 300 }), target);
    expect(result).toMatchObject({ verdict: "down", reason: "killed after timeout 300 ms" });
    expect(performance.now() - startedAt).toBeLessThan(300 + 500);
  });

  it("force-kills a script that ignores SIGTERM", async () => {
    const startedAt = performance.now();
    const result = await runner.run(sh("trap '' TERM; sleep 10 & wait; wait", { timeoutMs: 300 }), target);
    expect(result).toMatchObject({ verdict: "down", reason: "killed after timeout 300 ms" });
    expect(performance.now() - startedAt).toBeLessThan(300 + EXEC_KILL_DELAY_MS + 500);
  });

  it("abstains when the command is missing or not executable", async () => {
    const missing = await runner.run(execCheck(["lvsq-no-such-checker"]), target);
    expect(missing).toMatchObject({ verdict: "abstain", reason: "command not found: lvsq-no-such-checker" });
    const script = join(servers.tempDir(), "check.sh");
    writeFileSync(script, "#!/bin/sh\nexit 0\n");
    chmodSync(script, 0o644);
    const notExecutable = await runner.run(execCheck([script]), target);
    expect(notExecutable).toMatchObject({ verdict: "abstain", reason: `not executable: ${script}` });
  });

  it("abstains when cancelled", async () => {
    const controller = new AbortController();
    const pending = runner.run(sh("sleep 10"), target, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await pending).toMatchObject({ verdict: "abstain", reason: "cancelled" });
  });
});
