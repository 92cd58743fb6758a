import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AdminFile, adminFilePath } from "./admin-file.js";

const record = (rs: string, action: "drain" | "disable" | "enable") => ({
  v: 1 as const,
  service: "web",
  rs,
  action,
  author: "ops@lvs-a",
  reason: "",
  at: 1,
});

describe("AdminFile (lvsq run's overrides on the node)", () => {
  const dir = () => mkdtempSync(join(tmpdir(), "lvsq-admin-file-"));

  it("has no records before the first save, keeps one per real server, and drops it on enable", () => {
    const file = new AdminFile(join(dir(), "sub", "c.admin.json"));
    expect(file.load()).toEqual({ records: [], invalid: [] });
    expect(file.save(record("192.0.2.1:80", "drain"))).toBeUndefined();
    expect(file.save(record("192.0.2.1:80", "disable"))?.action).toBe("drain");
    file.save(record("192.0.2.2:80", "drain"));
    expect(file.load().records.map((r) => `${r.rs} ${r.action}`)).toEqual([
      "192.0.2.1:80 disable",
      "192.0.2.2:80 drain",
    ]);
    file.save(record("192.0.2.1:80", "enable"));
    expect(file.load().records.map((r) => r.rs)).toEqual(["192.0.2.2:80"]);
  });

  it("skips invalid records and refuses a file that is not an admin file", () => {
    const path = join(dir(), "c.admin.json");
    writeFileSync(
      path,
      JSON.stringify({ v: 1, records: { ok: record("192.0.2.1:80", "drain"), bad: { v: 9 } } }),
    );
    expect(new AdminFile(path).load()).toMatchObject({ invalid: ["bad"], records: [{ rs: "192.0.2.1:80" }] });
    writeFileSync(path, "not json");
    expect(() => new AdminFile(path).load()).toThrow(/is not an lvsq admin file/);
  });

  it("lives under LVSQ_STATE_DIR, default /var/lib/lvsq", () => {
    expect(adminFilePath("edge", {})).toBe("/var/lib/lvsq/edge.admin.json");
    expect(adminFilePath("edge", { LVSQ_STATE_DIR: "/tmp/s" })).toBe("/tmp/s/edge.admin.json");
    const path = join(dir(), "x.admin.json");
    new AdminFile(path).save(record("192.0.2.1:80", "drain"));
    expect(JSON.parse(readFileSync(path, "utf8")).v).toBe(1);
  });
});
