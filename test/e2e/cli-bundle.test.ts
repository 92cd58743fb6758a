import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { runCli } from "@lvsq/cli";
import { LVSQ_VERSION } from "@lvsq/protocol";
import { describe, expect, it } from "vitest";
import { lvsqBin, repoRoot } from "../harness/agents.js";

// The bundled lvsq (packages/cli/scripts/bundle.mjs): an entry with commander and every command's help,
// and one chunk per command loaded when it runs. These hold what that split is for: a fast start, and help
// that is still the whole of it.
const run = promisify(execFile);
const dist = join(repoRoot, "packages/cli/dist");
const COMMANDS = [
  "run",
  "probe",
  "director",
  "status",
  "explain",
  "admin",
  "validate",
  "schema",
  "nats-config",
  "import",
];

/** What the entry must not load: each of these costs tens of milliseconds (or more, in a slow guest). */
const HEAVY = ["zod", "yaml", "@nats-io/", "undici", "pino", "prom-client", "execa"];

type Metafile = {
  outputs: Record<
    string,
    { imports: { path: string; kind: string; external?: boolean }[]; inputs: Record<string, unknown> }
  >;
};

async function inProcess(argv: string[]): Promise<string> {
  let out = "";
  await runCli(argv, { stdout: (t) => void (out += t), stderr: (t) => void (out += t) });
  return out;
}

describe("the bundled lvsq", () => {
  it("answers --version with the version, well under a second", async () => {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const { stdout } = await run(process.execPath, [lvsqBin, "--version"], { timeout: 10_000 });
      times.push(performance.now() - started);
      expect(stdout.trim()).toBe(LVSQ_VERSION);
    }
    const median = times.sort((a, b) => a - b)[2]!;
    // About 0.1 s on a quiet host; the bound is generous because other tests share the 2 cores.
    expect(median, `median of ${times.map((t) => t.toFixed(0)).join(", ")} ms`).toBeLessThan(1000);
  });

  it.each(COMMANDS)("prints the whole help of lvsq %s, as the unbundled program does", async (command) => {
    const { stdout } = await run(process.execPath, [lvsqBin, command, "--help"], { timeout: 10_000 });
    expect(stdout).toContain(`Usage: lvsq ${command}`);
    expect(stdout).toContain("Examples:");
    expect(stdout).toBe(await inProcess([command, "--help"]));
  });

  it("prints the top-level help with every command", async () => {
    const { stdout } = await run(process.execPath, [lvsqBin, "--help"], { timeout: 10_000 });
    for (const command of COMMANDS) expect(stdout).toMatch(new RegExp(`^  ${command} `, "m"));
    expect(stdout).toBe(await inProcess(["--help"]));
  });

  it("keeps the NATS client, zod, undici and pino out of the entry: each command's code is a chunk", () => {
    const meta = JSON.parse(readFileSync(join(dist, "lvsq.meta.json"), "utf8")) as Metafile;
    const entry = "dist/lvsq.mjs";
    const loaded = new Set<string>();
    const visit = (output: string) => {
      if (loaded.has(output)) return;
      loaded.add(output);
      for (const i of meta.outputs[output]!.imports)
        if (i.kind === "import-statement" && !i.external) visit(i.path);
    };
    visit(entry);
    const inputs = [...loaded].flatMap((output) => Object.keys(meta.outputs[output]!.inputs));
    const externals = [...loaded].flatMap((output) =>
      meta.outputs[output]!.imports.filter((i) => i.external).map((i) => i.path),
    );
    for (const heavy of HEAVY) {
      expect(inputs.filter((input) => input.includes(`node_modules/${heavy}`))).toEqual([]);
      expect(externals.filter((path) => path.startsWith(heavy))).toEqual([]);
    }
    const lazy = meta.outputs[entry]!.imports.filter((i) => i.kind === "dynamic-import").map((i) => i.path);
    for (const command of COMMANDS)
      expect(lazy.some((path) => path.startsWith(`dist/chunks/${command}-`))).toBe(true);
  });

  it("runs a command from its chunk", async () => {
    const { stdout } = await run(
      process.execPath,
      [lvsqBin, "validate", join(repoRoot, "docs/examples/multi-site.yaml")],
      { timeout: 10_000 },
    );
    expect(stdout).toContain("3 sites, 3 probes, 2 directors");
  });
});
