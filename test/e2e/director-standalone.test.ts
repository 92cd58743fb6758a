import { beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../harness/agents.js";
import { resultJson, runInGuest, type GuestRunResult } from "../harness/guest.js";

// Seed parity: `lvsq run` does the classic director shell loop's job on a real kernel IPVS table (in the guest).
type Step = { table: Record<string, number>; ms: number };
type Results = {
  bothIn: Record<string, number>;
  curl: string;
  oneDown: Step;
  fallbackIn: Step;
  oneBack: Step;
  apiIn: boolean;
  apiRemoved: { ms: number };
  handmade: { present: boolean; table: Record<string, number> };
  webAfterReload: Record<string, number>;
  explain: string;
  exitCode: number | null;
  tableAfterStop: Record<string, number>;
  log: string[];
  timers: { intervalMs: number; timeoutMs: number; fall: number };
  timeScale: number;
  nodeStartMs: number;
  error?: string;
};

let run: GuestRunResult;
let r: Results;

beforeAll(async () => {
  run = await runInGuest({
    nodeModule: new URL("./director-standalone.guest.ts", import.meta.url).pathname,
    // The netlink driver, asked for by name: a director that cannot open it exits instead of falling back.
    env: { LVSQ_REPO: repoRoot, LVSQ_IPVS_DRIVER: "netlink" },
    // Under QEMU's emulation the scenario's waits stretch by up to 5 (its time scale); a passing run takes
    // well under this.
    timeoutMs: 300_000,
  });
  r = resultJson<Results>(run, "results.json");
  console.log(
    `standalone on ${run.guest.label}: time scale ${r.timeScale} (node starts in ${r.nodeStartMs} ms), check every ${r.timers.intervalMs} ms, timeout ${r.timers.timeoutMs} ms`,
  );
  if (r.error) throw new Error(`guest scenario failed: ${r.error}\n${(r.log ?? []).slice(-30).join("\n")}`);
}, 320_000);

const events = () =>
  r.log.flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      return typeof parsed.event === "string" ? [parsed] : [];
    } catch {
      return [];
    }
  });

describe("lvsq run (standalone) on a real kernel table: the shell loop's story", () => {
  it("talks to the kernel over its netlink socket", () => {
    const driver = r.log.flatMap((line) => {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        return parsed.msg === "ipvs driver" ? [parsed] : [];
      } catch {
        return [];
      }
    });
    expect(driver).toEqual([
      expect.objectContaining({
        driver: "netlink",
        detail: expect.stringMatching(/^IPVS 1\.2\.1 over generic netlink/),
      }),
    ]);
  });

  it("puts both real servers in with their weights (1 and 3) and serves the VIP", () => {
    expect(r.bothIn).toEqual({ "127.0.0.2:8080": 1, "127.0.0.3:8080": 3 });
    expect(r.curl).toMatch(/^127\.0\.0\.[23]:8080/);
  });

  it("removes a dead real server within fall × interval + timeout + 1 s", () => {
    expect(r.oneDown.table).toEqual({ "127.0.0.2:8080": 1 });
    // fall × interval + timeout, and 1 s (stretched with the guest's time scale) for the apply
    const { fall, intervalMs, timeoutMs } = r.timers;
    expect(r.oneDown.ms).toBeLessThan(fall * intervalMs + timeoutMs + 1000 * r.timeScale);
  });

  it("installs the fallback when both are down", () => {
    expect(r.fallbackIn.table).toEqual({ "127.0.0.9:8080": 1 });
  });

  it("takes the fallback out and restores the weight when one comes back", () => {
    expect(r.oneBack.table).toEqual({ "127.0.0.2:8080": 1 });
  });

  it("logs one line per transition", () => {
    const seen = events().map((e) => `${e.event} ${e.rs ?? ""}`.trim());
    const after = seen.slice(seen.indexOf("rs-down 127.0.0.3:8080"));
    expect(after.filter((e) => e.startsWith("rs-") || e.startsWith("fallback-"))).toEqual([
      "rs-down 127.0.0.3:8080",
      "rs-down 127.0.0.2:8080",
      "fallback-on",
      "rs-up 127.0.0.2:8080",
      "fallback-off",
    ]);
  });

  it("on a reload that removes a service, deletes it from the kernel; never touches one it did not own", () => {
    expect(r.apiIn).toBe(true);
    // The reload, one apply and the 1 s poll of /proc, stretched with the guest.
    expect(r.apiRemoved.ms).toBeLessThan(15_000 * r.timeScale);
    expect(r.handmade).toEqual({ present: true, table: { "127.0.0.5:8080": 1 } });
    expect(r.webAfterReload).toEqual({ "127.0.0.2:8080": 1 });
    const logs = r.log.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    expect(logs.find((l) => String(l.msg).startsWith("kernel services not in the config"))).toMatchObject({
      level: "warn",
      services: ["tcp 192.0.2.12:80"],
    });
    expect(logs.find((l) => String(l.msg).startsWith("removed from the config"))).toMatchObject({
      services: ["tcp 192.0.2.11:80"],
    });
  });

  it("explains the decision over the control socket", () => {
    expect(r.explain).toContain("127.0.0.2:8080");
    expect(r.explain).toMatch(/127\.0\.0\.2:8080\s+IN\s+weight 1\s+rule quorum-up/);
    expect(r.explain).toMatch(/127\.0\.0\.3:8080\s+OUT/);
    expect(r.explain).toContain("connect ECONNREFUSED");
  });

  it("stops cleanly on SIGTERM and leaves the kernel table as it is", () => {
    expect(r.exitCode).toBe(0);
    expect(r.tableAfterStop).toEqual({ "127.0.0.2:8080": 1 });
  });
});
