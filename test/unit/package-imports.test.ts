import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { importsOf, sourceFiles } from "./source-graph.js";

// docs/architecture.md's table says which lvsq packages each package may import; this holds the code to it
// (sources only: tests may import what they need) and the table to the code, so neither drifts.
const root = new URL("../../", import.meta.url).pathname;
const packages = readdirSync(join(root, "packages")).sort();

/** The "may import" column of docs/architecture.md, per package. */
function documented(): Map<string, string[]> {
  const doc = readFileSync(join(root, "docs/architecture.md"), "utf8");
  const section = doc.slice(doc.indexOf("## Packages and what each may import"));
  const table = new Map<string, string[]>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const name = /^`([a-z-]+)`$/.exec(cells[1] ?? "")?.[1];
    if (!name || !packages.includes(name)) continue;
    table.set(name, [...(cells[3] ?? "").matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!).sort());
  }
  return table;
}

/** The lvsq packages a package's sources import (test files and test-only helpers excluded). */
function imported(pkg: string): string[] {
  const used = new Set<string>();
  for (const file of sourceFiles(join(root, "packages", pkg, "src"))) {
    if (/\.test\.ts$|\/test-[\w-]+\.ts$|\/pair-sim\.ts$/.test(file)) continue;
    for (const specifier of importsOf(file)) {
      const name = /^@lvsq\/([a-z-]+)/.exec(specifier)?.[1];
      if (name && name !== pkg) used.add(name);
    }
  }
  return [...used].sort();
}

describe("package imports (docs/architecture.md)", () => {
  const table = documented();

  it("documents every package", () => {
    expect([...table.keys()].sort()).toEqual(packages);
  });

  it.each(packages)("%s imports exactly the lvsq packages the table lets it import", (pkg) => {
    expect(imported(pkg), `packages/${pkg}/src vs its "may import" cell`).toEqual(table.get(pkg));
  });

  it.each(packages)("%s declares each lvsq package it imports in its package.json", (pkg) => {
    const manifest = JSON.parse(readFileSync(join(root, "packages", pkg, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
    };
    const declared = Object.keys(manifest.dependencies ?? {});
    for (const name of imported(pkg)) expect(declared).toContain(`@lvsq/${name}`);
  });
});
