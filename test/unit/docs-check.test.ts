import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  checkFlags,
  checkLinks,
  checkOutsideReferences,
  checkRepoPaths,
  headingAnchors,
  lvsqFlags,
} from "./docs-check.js";

// Each rule of the docs check (scripts/check-docs.mjs runs them over the repository in `npm test`) bites on a
// scratch tree, and lets the right thing through.
function scratch(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "lvsq-docs-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe("the docs check", () => {
  it("finds GitHub's heading anchors", () => {
    const anchors = headingAnchors("# Top\n## `lvsq status` (live)\n## Top\n```\n# not a heading\n```\n");
    expect([...anchors]).toEqual(["top", "lvsq-status-live", "top-1"]);
  });

  it("fails a link to a missing file or heading, and passes good ones", () => {
    const root = scratch({ "docs/b.md": "# Real heading\n", "docs/c.txt": "x" });
    const text = [
      "[ok](b.md) [ok](b.md#real-heading) [ok](#here) [ok](c.txt) [web](https://example.com/x)",
      "[gone](missing.md) [no heading](b.md#nothing) [out](../../etc/passwd) [nor here](#nowhere)",
      "`[in code](missing-too.md)`",
      "## Here",
    ].join("\n");
    const problems = checkLinks(root, "docs/a.md", text).map((p) => p.message);
    expect(problems).toEqual([
      "link missing.md: docs/missing.md does not exist",
      "link b.md#nothing: docs/b.md has no heading #nothing",
      "link ../../etc/passwd leaves the repository",
      "link #nowhere: no heading #nowhere on this page",
    ]);
  });

  it("fails a repository path named in backticks that does not exist", () => {
    const root = scratch({ "packages/x/src/a.ts": "" });
    const problems = checkRepoPaths(
      root,
      "docs/a.md",
      "`packages/x/src/a.ts` `packages/x/src/gone.ts` `packages/*/src`",
    );
    expect(problems.map((p) => p.message)).toEqual(["names packages/x/src/gone.ts, which does not exist"]);
  });

  it("fails a flag docs give lvsq that its --help does not list", () => {
    const flags = lvsqFlags();
    const text = [
      "`lvsq status --config F --json --watch` and `lvsq director --config F --id a --dry-run`",
      "`lvsq status --config F --jsn` and `--log-level debug` and `--nosuch`",
      "```sh",
      "lvsq run --config seed.yaml --dry-run | tee log   # --not-lvsq after the pipe",
      "lvsq probe --config f --id p --dry-run",
      "lvsq frobnicate --x",
      "```",
      "ipvsadm's `--tun-type ipip`; `ipvsadm -L -n --thresholds`",
    ].join("\n");
    expect(checkFlags("docs/a.md", text, flags).map((p) => `${p.line}: ${p.message}`)).toEqual([
      "2: --jsn is not in lvsq status --help",
      "2: --nosuch is not an option of any lvsq command (lvsq --help)",
      "5: --dry-run is not in lvsq probe --help",
      "6: lvsq frobnicate: no such command in lvsq --help",
    ]);
  });

  it("fails text that points outside the repository", () => {
    const design = ["DESIGN", "§3"].join(" ");
    const text = `ok line\nsee ${design}\nas issue ${7} asks\nzod issues are fine`;
    expect(checkOutsideReferences("x.ts", text).map((p) => p.line)).toEqual([2, 3]);
  });
});
