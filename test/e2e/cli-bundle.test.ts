import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { runCli } from "@lvsq/cli";
import { LVSQ_VERSION } from "@lvsq/protocol";
import { describe, expect, it } from "vitest";
import { lvsqBin, repoRoot } from "../harness/agents.js";

// The bundled lvsq (packages/cli/scripts/bundle.mjs): an entry with commander and every command's help,
// and one bundle per command, loaded when it runs. These hold what that split is for: a fast start, and help
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
  outputs: Record<string, { imports: { path: string; kind: string }[]; inputs: Record<string, unknown> }>;
};

async function inProcess(argv: string[]): Promise<string> {
  let out = "";
  await runCli(argv, {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      out += t;
    },
  });
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

  it("keeps the NATS client, zod, undici and pino out of the entry: each command is a bundle of its own", () => {
    const meta = JSON.parse(readFileSync(join(dist, "lvsq.meta.json"), "utf8")) as Metafile;
    const bundled = (output: string) => Object.keys(meta.outputs[output]!.inputs);
    const imports = (output: string, kind: string) =>
      meta.outputs[output]!.imports.filter((i) => i.kind === kind).map((i) => i.path);
    const entry = "dist/lvsq.mjs";
    for (const heavy of HEAVY) {
      expect(bundled(entry).filter((input) => input.includes(`node_modules/${heavy}`))).toEqual([]);
      expect(imports(entry, "import-statement").filter((path) => path.startsWith(heavy))).toEqual([]);
    }
    expect(imports(entry, "import-statement").every((path) => path.startsWith("node:"))).toBe(true);
    expect(imports(entry, "dynamic-import").sort()).toEqual(COMMANDS.map((c) => `./lvsq-${c}.mjs`).sort());
    // Each command is tree-shaken alone: standalone mode has no NATS client, a director no HTTP client.
    const holds = (command: string, pkg: string) =>
      bundled(`dist/lvsq-${command}.mjs`).some((input) => input.includes(`node_modules/${pkg}`));
    expect(holds("run", "@nats-io/")).toBe(false);
    expect(holds("director", "undici")).toBe(false);
    expect(holds("director", "@nats-io/")).toBe(true);
  });

  it("stops quietly when its reader goes away (lvsq --help | head -1)", async () => {
    // `true` has exited before lvsq writes a byte: every write meets a closed pipe.
    for (const args of ["--help", "schema"]) {
      const piped = await run("sh", [
        "-c",
        `"${process.execPath}" "${lvsqBin}" ${args} | true; echo "exit $?"`,
      ]);
      expect(piped.stderr, args).toBe("");
    }
  });

  it("runs a command from its bundle", async () => {
    const { stdout } = await run(
      process.execPath,
      [lvsqBin, "validate", join(repoRoot, "docs/examples/multi-site.yaml")],
      { timeout: 10_000 },
    );
    expect(stdout).toContain("3 sites, 3 probes, 2 directors");
  });
});
