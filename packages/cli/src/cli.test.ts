import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./program.js";

const root = new URL("../../../", import.meta.url).pathname;
const badDir = join(root, "test/fixtures/config/bad");
const bin = join(root, "packages/cli/bin/lvsq.js");

async function run(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}

describe("lvsq validate", () => {
  it("accepts both examples with exit 0 and a summary", async () => {
    const seed = await run("validate", join(root, "docs/examples/seed.yaml"));
    expect(seed).toMatchObject({ code: 0, stderr: "" });
    expect(seed.stdout).toContain("1 service, 2 real servers, standalone");
    const multi = await run("validate", join(root, "docs/examples/multi-site.yaml"));
    expect(multi.code).toBe(0);
    expect(multi.stdout).toContain("3 sites, 3 probes, 2 directors");
  });

  const expectations = JSON.parse(readFileSync(join(badDir, "expectations.json"), "utf8")) as Record<
    string,
    { path: string }
  >;
  it.each(Object.entries(expectations))("exits 78 naming the field for %s", async (name, { path }) => {
    const result = await run("validate", join(badDir, name));
    expect(result.code).toBe(78);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`${join(badDir, name)}`);
    if (path) expect(result.stderr).toContain(`: ${path}: `);
  });

  it("--print shows the normalised config as JSON", async () => {
    const result = await run("validate", "--print", join(root, "docs/examples/seed.yaml"));
    expect(JSON.parse(result.stdout).services.web.check.intervalMs).toBe(5000);
  });
});

describe("usage errors exit 2", () => {
  it.each([[["validate"]], [["nonsense"]], [["--log-level", "loud", "schema"]], [["validate", "a", "b"]]])(
    "%j",
    async (argv) => {
      const result = await run(...argv);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/error/);
    },
  );
});

describe("lvsq schema", () => {
  it("prints a JSON Schema that names every top-level field", async () => {
    const result = await run("schema");
    const schema = JSON.parse(result.stdout);
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining([
        "cluster",
        "nats",
        "defaults",
        "quorum",
        "sites",
        "probes",
        "directors",
        "services",
        "director",
      ]),
    );
    expect(schema.required).toContain("services");
  });
});

describe("the real binary", () => {
  it("is built (npm test builds before it tests)", () => {
    expect(existsSync(join(root, "packages/cli/dist/main.js")), "run `npm run build` first").toBe(true);
  });

  it("answers --help with examples and --version", () => {
    const help = execFileSync(process.execPath, [bin, "--help"], { encoding: "utf8" });
    expect(help).toContain("Examples:");
    expect(help).toContain("validate");
    expect(execFileSync(process.execPath, [bin, "--version"], { encoding: "utf8" }).trim()).toMatch(
      /^\d+\.\d+\.\d+$/,
    );
  });

  it("exits 78 on a bad config and 2 on a usage error", () => {
    expect(spawnSync(process.execPath, [bin, "validate", join(badDir, "05-weight-string.yaml")]).status).toBe(
      78,
    );
    expect(spawnSync(process.execPath, [bin, "validate"]).status).toBe(2);
  });
});

describe("lvsq import", () => {
  it("prints a keepalived.conf as a config that lvsq validate accepts, with --cluster and --out", async () => {
    const printed = await run(
      "import",
      "keepalived",
      join(root, "test/fixtures/import/keepalived/keepalived.conf"),
    );
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain("cluster: LVS_EDGE");
    const out = join(mkdtempSync(join(tmpdir(), "lvsq-import-cli-")), "lvs.yaml");
    const written = await run(
      "import",
      "ldirectord",
      join(root, "test/fixtures/import/ldirectord/ldirectord.cf"),
      "--cluster",
      "web",
      "--out",
      out,
    );
    expect(written).toMatchObject({ code: 0, stdout: "" });
    expect(written.stderr).toContain("4 service(s)");
    const validated = await run("validate", out);
    expect(validated.stdout).toContain("ok — cluster web, 4 services");
  });

  it("exits 2 on a file it cannot read, and on an unknown format", async () => {
    const missing = await run("import", "keepalived", "/nonexistent/keepalived.conf");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot import /nonexistent/keepalived.conf");
    expect((await run("import", "haproxy", "x.cfg")).code).toBe(2);
  });
});
