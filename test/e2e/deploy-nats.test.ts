import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../harness/agents.js";
import { findNatsServer } from "../harness/nats.js";

// The nats-server configs shipped in deploy/nats parse with the real nats-server (`-t`: test and exit).
const dir = join(repoRoot, "deploy/nats");

describe("deploy/nats configs", () => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".conf"));

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
    const result = spawnSync(findNatsServer(), ["-t", "-c", join(dir, file)], { encoding: "utf8" });
    expect(`${result.stdout}${result.stderr}`).toContain("is valid");
    expect(result.status).toBe(0);
  });
});
