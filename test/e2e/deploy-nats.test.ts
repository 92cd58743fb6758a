import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lvsqBin, repoRoot } from "../harness/agents.js";
import { findNatsServer } from "../harness/nats.js";
import { makeTestPki } from "../harness/tls.js";

// The nats-server configs shipped in deploy/nats parse with the real nats-server (`-t`: test and exit), each
// as an operator would install it: the single server's `include ./lvsq-users.conf` is the file
// `lvsq nats-config --nkeys` generates from the example fleet config, and its TLS files exist.
const dir = join(repoRoot, "deploy/nats");
const installed = mkdtempSync(join(tmpdir(), "lvsq-deploy-nats-"));

describe("deploy/nats configs", () => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".conf"));
  afterAll(() => rmSync(installed, { recursive: true, force: true }));

  it("ships a single server, a 3-node cluster and a site's leaf node", () => {
    expect(files.sort()).toEqual([
      "cluster-node-1.conf",
      "cluster-node-2.conf",
      "cluster-node-3.conf",
      "leaf-site.conf",
      "nats-server.conf",
    ]);
  });

  it.each(files)("%s is valid to nats-server", (file) => {
    cpSync(dir, installed, { recursive: true });
    const users = spawnSync(
      process.execPath,
      [
        lvsqBin,
        "nats-config",
        "--config",
        join(repoRoot, "deploy/fleet.example.yaml"),
        "--nkeys",
        join(installed, "keys"),
      ],
      { encoding: "utf8" },
    );
    expect(users.status, users.stderr).toBe(0);
    writeFileSync(join(installed, "lvsq-users.conf"), users.stdout);
    const pki = makeTestPki(join(installed, "tls"), []);
    const text = readFileSync(join(installed, file), "utf8")
      .replaceAll("/etc/nats/tls/server.pem", pki.serverCert)
      .replaceAll("/etc/nats/tls/server.key", pki.serverKey)
      .replaceAll("/etc/nats/tls/ca.pem", pki.ca);
    writeFileSync(join(installed, file), text);
    const result = spawnSync(findNatsServer(), ["-t", "-c", join(installed, file)], { encoding: "utf8" });
    expect(`${result.stdout}${result.stderr}`).toContain("is valid");
    expect(result.status).toBe(0);
  });
});
