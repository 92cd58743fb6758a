import { describe, expect, it } from "vitest";
import { findLinuxUml, resultJson, runInUml, UML_INSTALL_HINT } from "../harness/uml.js";

describe("UML harness", () => {
  it("says what to install when linux.uml is missing", () => {
    expect(() => findLinuxUml("/nonexistent-dir")).toThrow(UML_INSTALL_HINT);
    expect(UML_INSTALL_HINT).toContain("apt-get install -y user-mode-linux kmod ipvsadm");
  });

  it("runs a node scenario: namespaces joined by veth pairs and a bridge, an HTTP server in one, curl from another", async () => {
    const run = await runInUml({
      nodeModule: new URL("./ipvs-uml-harness.guest.ts", import.meta.url).pathname,
      timeoutMs: 60_000,
    });
    expect(run.exitMarker).toBe(true);
    expect(run.exitCode).toBe(3);
    const result = resultJson<{ body: string; port: number; siteAddresses: string; netns: string[] }>(
      run,
      "harness.json",
    );
    expect(result.body).toBe(`198.51.100.3:${result.port}`);
    expect(result.siteAddresses).toContain("198.51.100.1/24");
    expect(result.netns.map((line) => line.split(" ")[0])).toEqual(["backend", "director", "site"]);
  });

  it("stops a scenario that passes its deadline, and still powers off", async () => {
    const started = Date.now();
    const run = await runInUml({ script: "echo started; sleep 120; echo never", timeoutMs: 15_000 });
    expect(run.stdout).toContain("started");
    expect(run.stdout).not.toContain("never");
    expect(run.exitCode).toBe(124); // timeout(1) inside the guest
    expect(run.stdout).toContain("Powering off");
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
