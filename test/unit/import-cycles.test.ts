import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { importCycles, relativeGraph, sourceFiles } from "./source-graph.js";

// No two files of one package import each other, directly or around a circle (type-only imports count):
// a circle means neither file can be read, tested or moved without the other. See docs/architecture.md.
const root = new URL("../../", import.meta.url).pathname;
const folders = readdirSync(join(root, "packages")).flatMap((pkg) =>
  ["src", "web"]
    .map((sub) => join(root, "packages", pkg, sub))
    .filter((dir) => {
      try {
        return readdirSync(dir).length > 0;
      } catch {
        return false;
      }
    }),
);

describe("import cycles between the files of one package", () => {
  it.each(folders.map((dir) => [dir.slice(root.length), dir]))("%s has none", (_name, dir) => {
    expect(importCycles(relativeGraph(sourceFiles(dir)), dir)).toEqual([]);
  });

  it("the check finds a cycle, including one made by a type-only import", () => {
    const dir = mkdtempSync(join(tmpdir(), "lvsq-cycles-"));
    mkdirSync(join(dir, "src"));
    writeFileSync(join(dir, "src/a.ts"), 'import { b } from "./b.js";\nexport const a = b;\n');
    writeFileSync(join(dir, "src/b.ts"), 'import type { C } from "./c.js";\nexport const b: C = 1;\n');
    writeFileSync(join(dir, "src/c.ts"), 'import type { a } from "./a.js";\nexport type C = typeof a;\n');
    writeFileSync(join(dir, "src/d.ts"), 'import { a } from "./a.js";\nexport const d = a;\n');
    const src = join(dir, "src");
    expect(importCycles(relativeGraph(sourceFiles(src)), src)).toEqual(["a.ts -> b.ts -> c.ts -> a.ts"]);
  });
});
