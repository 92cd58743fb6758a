import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { guestInfo, resultJson, runInGuest } from "../harness/guest.js";
import { forcedAccel, forcedBackend } from "../harness/guest-select.js";

// The guest harness itself, on whichever backend this host runs (UML or QEMU; LVSQ_GUEST forces one).
describe("guest harness", () => {
  it("names the backend and kernel it boots, and honours LVSQ_GUEST", async () => {
    const info = await guestInfo();
    console.log(`guest harness: ${info.label}`);
    expect(["uml", "qemu"]).toContain(info.backend);
    const { env } = process;
    if (env.LVSQ_GUEST) expect(info.backend).toBe(env.LVSQ_GUEST);
    expect(info.kernel).toMatch(/^\d+\.\d+/);
  });

  it("refuses an LVSQ_GUEST or LVSQ_GUEST_ACCEL it does not know, saying what it expects", () => {
    expect(() => forcedBackend({ LVSQ_GUEST: "docker" })).toThrow("LVSQ_GUEST=docker: expected uml or qemu");
    expect(() => forcedAccel({ LVSQ_GUEST_ACCEL: "hvf" })).toThrow(
      "LVSQ_GUEST_ACCEL=hvf: expected kvm or tcg",
    );
    expect(forcedBackend({})).toBeUndefined();
  });

  // One boot for both: a node scenario in a work folder the test gives, kept with what it wrote.
  it("runs a node scenario (namespaces joined by veth pairs and a bridge, an HTTP server in one, curl from another) and keeps the work folder it was given", async () => {
    const workDir = mkdtempSync(join(tmpdir(), "lvsq-guest-kept-"));
    try {
      const run = await runInGuest({
        nodeModule: new URL("./guest-harness.guest.ts", import.meta.url).pathname,
        workDir,
        timeoutMs: 90_000,
      });
      expect(run.exitMarker).toBe(true);
      expect(run.exitCode).toBe(3);
      const result = resultJson<{
        body: string;
        port: number;
        siteAddresses: string;
        netns: string[];
        backend: string;
        kernel: string;
      }>(run, "harness.json");
      expect(result.body).toBe(`198.51.100.3:${result.port}`);
      expect(result.siteAddresses).toContain("198.51.100.1/24");
      expect(result.netns.map((line) => line.split(" ")[0])).toEqual(["backend", "director", "site"]);
      // The scenario saw the kernel the harness says it booted.
      expect(result.backend).toBe(run.guest.backend);
      expect(result.kernel).toBe(run.guest.kernel);
      // The folder was kept (the harness removes only folders it made), with what the scenario wrote.
      expect(run.workDir).toBe(workDir);
      expect(existsSync(join(workDir, "out", "harness.json"))).toBe(true);
      expect(run.files["hello.txt"]).toBe(`from ${run.guest.backend}\n`);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  });

  it("stops a scenario that passes its deadline, and still powers off", async () => {
    // Room for the slowest boot seen (34 s under QEMU's emulation on a slow CI host) and 5 s of scenario.
    const timeoutMs = (await guestInfo()).accel === "tcg" ? 60_000 : 30_000;
    const started = Date.now();
    const run = await runInGuest({ script: "echo started; sleep 300; echo never", timeoutMs });
    expect(run.stdout).toContain("started");
    expect(run.stdout).not.toContain("never");
    expect(run.exitCode).toBe(124); // timeout(1) inside the guest
    expect(run.stdout).toContain("Powering off");
    expect(Date.now() - started).toBeLessThan(timeoutMs + 5_000);
  });
});
