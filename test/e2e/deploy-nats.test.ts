import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

  // The cluster's and the leaf's files are what `lvsq nats-config --server N / --leaf SITE` prints for the
  // example fleet with three cluster nodes (TEST-NET-3 placeholders) as its nats.servers.
  it.each([
    ["cluster-node-1.conf", "--server", "1"],
    ["cluster-node-2.conf", "--server", "2"],
    ["cluster-node-3.conf", "--server", "3"],
    ["leaf-site.conf", "--leaf", "dc1"],
  ])("%s is what lvsq nats-config %s %s prints", (file, flag, value) => {
    const printed = spawnSync(
      process.execPath,
      [lvsqBin, "nats-config", "--config", join(repoRoot, "deploy/fleet.example.yaml"), flag, value],
      {
        encoding: "utf8",
        env: {
          ...process.env,
          LVSQ_NATS_URL: "nats://203.0.113.11:4222,nats://203.0.113.12:4222,nats://203.0.113.13:4222",
        },
      },
    );
    expect(printed.status, printed.stderr).toBe(0);
    expect(printed.stdout).toBe(readFileSync(join(dir, file), "utf8"));
  });

  it("refuses a node the fleet does not list and a site it does not have, naming what it has", () => {
    const run = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [lvsqBin, "nats-config", "--config", join(repoRoot, "deploy/fleet.example.yaml"), ...args],
        {
          encoding: "utf8",
        },
      );
    const node = run("--server", "2");
    expect(node.status).toBe(2);
    expect(node.stderr).toContain("--server 2: nats.servers lists 1 server(s), 1-1");
    const site = run("--leaf", "dc9");
    expect(site.status).toBe(2);
    expect(site.stderr).toContain("--leaf dc9: not a site of the fleet (sites: dc1, dc2, dc3)");
  });

  // Installed once, as an operator would: the folder, the users file lvsq nats-config --nkeys generates from
  // the example fleet, and TLS files where the single server's config names them.
  let pki: ReturnType<typeof makeTestPki>;
  beforeAll(() => {
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
    if (users.status !== 0) throw new Error(`lvsq nats-config --nkeys failed: ${users.stderr}`);
    writeFileSync(join(installed, "lvsq-users.conf"), users.stdout);
    pki = makeTestPki(join(installed, "tls"), []);
  });

  it.each(files)("%s is valid to nats-server", (file) => {
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
