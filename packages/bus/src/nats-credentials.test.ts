import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCredentialsFile, userNkey } from "./nats-credentials.js";

const dir = mkdtempSync(join(tmpdir(), "lvsq-creds-test-"));
const file = (name: string, text: string, mode = 0o600) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
};

describe("readCredentialsFile", () => {
  it("reads an nkey seed that userNkey wrote, and never rewrites it", async () => {
    const seedFile = join(dir, "p1.nk");
    const first = await userNkey(seedFile, true);
    expect(first.created).toBe(true);
    expect(first.publicKey).toMatch(/^U[A-Z2-7]{55}$/);
    expect((await stat(seedFile)).mode & 0o777).toBe(0o600);
    const again = await userNkey(seedFile, true);
    expect(again).toEqual({ publicKey: first.publicKey, created: false });
    const read = await readCredentialsFile(seedFile);
    expect(read.kind).toBe("nkey");
    expect(read.worldReadable).toBe(false);
    expect((await readFile(seedFile, "utf8")).startsWith("SU")).toBe(true);
  });

  it("takes a .creds file by its JWT block and says when anyone may read it", async () => {
    const path = file(
      "u.creds",
      "-----BEGIN NATS USER JWT-----\neyJ0eXAi\n------END NATS USER JWT------\n",
      0o644,
    );
    const read = await readCredentialsFile(path);
    expect(read.kind).toBe("creds");
    expect(read.worldReadable).toBe(true);
  });

  it.each([
    ["garbage", "password123\n", /expected a NATS \.creds file .* or one nkey user seed/],
    ["a bad seed", `SU${"A".repeat(56)}\n`, /nkey seed does not decode/],
  ])("refuses %s, naming the file", async (_what, text, message) => {
    const path = file("bad", text);
    await expect(readCredentialsFile(path, "nats.creds (bad)")).rejects.toThrow(message);
    await expect(readCredentialsFile(path, "nats.creds (bad)")).rejects.toThrow(/^nats\.creds \(bad\)/);
  });

  it("says a missing file is missing", async () => {
    await expect(readCredentialsFile(join(dir, "none"), "probes[0].creds")).rejects.toThrow(
      "probes[0].creds: cannot read the NATS credentials: no such file",
    );
    await expect(userNkey(join(dir, "none"), false)).rejects.toThrow(/ENOENT/);
  });
});
