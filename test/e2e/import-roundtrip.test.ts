import { beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../harness/agents.js";
import { type GuestRunResult, resultJson, runInGuest } from "../harness/guest.js";

// `lvsq import keepalived` round trip on a real kernel: keepalived builds a table from
// test/fixtures/import/roundtrip/keepalived.conf, lvsq builds one from its import; they are the same.
type Results = {
  keepalivedVersion: string;
  keepalived: string[];
  keepalivedMs: number;
  keepalivedExit: number | null;
  leftAfterKeepalived: string[];
  lvsq: string[];
  lvsqMs: number;
  lvsqExit: number | null;
  keepalivedLog?: string[];
  lvsqLog?: string[];
  error?: string;
  tableAtError?: string[];
};

let run: GuestRunResult;
let r: Results;

beforeAll(async () => {
  run = await runInGuest({
    nodeModule: new URL("./import-roundtrip.guest.ts", import.meta.url).pathname,
    env: { LVSQ_REPO: repoRoot },
    // Two agents' start-up, check rounds and 3 quiet seconds each, in QEMU/TCG where a node start is ~1 s
    // and an lvsq start ~2.5 s.
    timeoutMs: 200_000,
  });
  r = resultJson<Results>(run, "results.json");
  if (r.error) {
    const logs = [...(r.keepalivedLog ?? []).slice(-20), ...(r.lvsqLog ?? []).slice(-20)].join("\n");
    throw new Error(`guest scenario failed: ${r.error}\ntable: ${JSON.stringify(r.tableAtError)}\n${logs}`);
  }
}, 230_000);

describe("lvsq import keepalived: the same kernel table as keepalived", () => {
  it("keepalived built the table from its config (Debian's keepalived in the guest)", () => {
    expect(r.keepalivedVersion).toMatch(/Keepalived v\d/);
    expect(r.keepalived.filter((l) => l.startsWith("-A"))).toHaveLength(6);
    expect(r.keepalived).toContain("-a -t 192.0.2.10:80 -r 127.0.0.5:8080 -m -w 0");
    expect(r.keepalivedExit).toBe(0);
  });

  it("lvsq run with the imported config builds exactly the same table", () => {
    expect(r.lvsq).toEqual(r.keepalived);
    expect(r.lvsqExit).toBe(0);
    console.log(
      `[import round trip] ${run.guest.label}: keepalived settled in ${r.keepalivedMs} ms, lvsq in ${r.lvsqMs} ms ` +
        "(each including a 3 s quiet period)",
    );
  });
});
