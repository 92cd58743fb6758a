import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

// The engine must stay pure; biome's noRestrictedImports (biome.json override for packages/engine) enforces
// it. This proves the rule bites: the repo's biome.json lints a deliberate offender placed at the same
// relative path in a scratch copy of the tree (so the real engine folder is never touched).
const root = new URL("../../", import.meta.url).pathname;
const biome = join(root, "node_modules/.bin/biome");

function lintAs(path: string, source: string) {
  const scratch = mkdtempSync(join(tmpdir(), "lvsq-lint-"));
  const config = JSON.parse(readFileSync(join(root, "biome.json"), "utf8"));
  config.$schema = undefined;
  config.vcs = { enabled: false };
  writeFileSync(join(scratch, "biome.json"), JSON.stringify(config));
  mkdirSync(dirname(join(scratch, path)), { recursive: true });
  writeFileSync(join(scratch, path), source);
  return spawnSync(biome, ["lint", path], { encoding: "utf8", cwd: scratch });
}

describe("engine purity lint rule", () => {
  it.each([
    'import { request } from "undici";\nexport const r = request;\n',
    'import { execa } from "execa";\nexport const e = execa;\n',
    'import { readFileSync } from "node:fs";\nexport const f = readFileSync;\n',
    'import { connect } from "@nats-io/transport-node";\nexport const c = connect;\n',
    'import pino from "pino";\nexport const p = pino;\n',
  ])("rejects %j in packages/engine", (source) => {
    const result = lintAs("packages/engine/src/offender.ts", source);
    expect(result.status, result.stdout + result.stderr).not.toBe(0);
    expect(result.stdout + result.stderr).toContain("noRestrictedImports");
    expect(result.stdout + result.stderr).toContain("The engine is pure");
  });

  it("allows the same import outside the engine", () => {
    const result = lintAs(
      "packages/checks/src/ok.ts",
      'import { request } from "undici";\nexport const r = request;\n',
    );
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });
});
