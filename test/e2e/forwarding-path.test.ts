import { beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../harness/agents.js";
import { type GuestRunResult, resultJson, runInGuest } from "../harness/guest.js";

// Checks through the forwarding path on a real kernel (docs/checks.md): a forwarding probe on the director
// host pins each DR real server with a hidden fwmark service and an nft mark, and checks it through the VIP.
type Flip = { to: string; reason: string };
type Results = {
  timers: { intervalMs: number; timeoutMs: number; fall: number; rise: number };
  timeScale: number;
  pinsInstalled: { ipvs: string[]; nft: string[] };
  bothIn: { ms: number; table: Record<string, number> };
  pinnedCurl: { rs1Block: string[]; rs2Block: string[]; rs3Block: string[] };
  pathBroken: { ms: number; table: Record<string, number>; pathFlips: Flip[]; directFlips: Flip[] };
  pathRestored: { ms: number; table: Record<string, number> };
  acceptLocalOff: { line: Record<string, unknown>; table: Record<string, number>; lastAbstain: string };
  stopped: { code: number | null; ipvs: string[]; nftTables: string[] };
  logs: { director: string[]; direct: string[]; path: string[] };
  error?: string;
};

const ALL = { "198.51.100.11:80": 1, "198.51.100.12:80": 1, "198.51.100.13:80": 1 };

let run: GuestRunResult;
let r: Results;

beforeAll(async () => {
  run = await runInGuest({
    needsNftables: true,
    nodeModule: new URL("./forwarding-path.guest.ts", import.meta.url).pathname,
    env: { LVSQ_REPO: repoRoot },
    modules: ["nf_tables", "ipip"],
    // Three lvsq starts, nats, and a dozen check intervals, stretched by the guest's time scale (up to 5).
    timeoutMs: 420_000,
  });
  r = resultJson<Results>(run, "results.json");
  console.log(
    `forwarding path on ${run.guest.label}: time scale ${r.timeScale}, check every ${r.timers.intervalMs} ms`,
  );
  const failed = Object.entries(r).filter(([, v]) => typeof v === "object" && v !== null && "error" in v);
  if (r.error || failed.length > 0) {
    const tail = (lines: string[] | undefined) => (lines ?? []).slice(-15).join("\n");
    throw new Error(
      `guest scenario failed: ${r.error ?? JSON.stringify(failed)}\npath probe:\n${tail(r.logs?.path)}\ndirector:\n${tail(r.logs?.director)}`,
    );
  }
}, 450_000);

describe("checks through the forwarding path, on a real kernel", () => {
  it("installs one hidden fwmark service per real server and the nft marks that select it", () => {
    expect(r.pinsInstalled.ipvs).toEqual(
      expect.arrayContaining([
        "-A -f 1280376832 -s rr",
        "-a -f 1280376832 -r 198.51.100.11:80 -g -w 1",
        "-A -f 1280376833 -s rr",
        "-a -f 1280376833 -r 198.51.100.12:80 -g -w 1",
        "-A -f 1280376834 -s rr",
        "-a -f 1280376834 -r 198.51.100.13:80 -i -w 1 --tun-type ipip",
      ]),
    );
    expect(r.pinsInstalled.nft).toEqual([
      expect.stringMatching(
        /ip daddr 192\.0\.2\.10 tcp dport 80 tcp sport 61000-61063 meta mark set 0x4c510000/,
      ),
      expect.stringMatching(
        /ip daddr 192\.0\.2\.10 tcp dport 80 tcp sport 61064-61127 meta mark set 0x4c510001/,
      ),
      expect.stringMatching(
        /ip daddr 192\.0\.2\.10 tcp dport 80 tcp sport 61128-61191 meta mark set 0x4c510002/,
      ),
    ]);
  });

  it("a connection from a server's source-port block reaches that server, and only it (DR and tunnel)", () => {
    expect(r.bothIn.table).toEqual(ALL);
    expect(r.pinnedCurl).toEqual({
      rs1Block: ["rs1", "rs1", "rs1"],
      rs2Block: ["rs2", "rs2", "rs2"],
      rs3Block: ["rs3", "rs3", "rs3"],
    });
  });

  it("a real server that answers directly but not through the VIP is voted down by the path probe and removed", () => {
    expect(r.pathBroken.table).toEqual({ "198.51.100.11:80": 1, "198.51.100.13:80": 1 });
    expect(r.pathBroken.pathFlips.find((f) => f.to === "down")).toMatchObject({
      to: "down",
      reason: expect.stringMatching(/\(through 192\.0\.2\.10:80\)$/),
    });
    expect(r.pathBroken.directFlips.filter((f) => f.to === "down")).toEqual([]);
    const { intervalMs, timeoutMs, fall } = r.timers;
    expect(r.pathBroken.ms).toBeLessThan(fall * intervalMs + timeoutMs + 5000 * r.timeScale);
    expect(r.pathRestored.table).toEqual(ALL);
  });

  it("abstains, with the reason, where the replies could not come back (accept_local off), and removes nothing", () => {
    expect(r.acceptLocalOff.line).toMatchObject({
      vip: "192.0.2.10",
      reason: expect.stringContaining("accept_local=1"),
    });
    expect(r.acceptLocalOff.lastAbstain).toMatch(
      /^this host holds VIP 192\.0\.2\.10, so replies from it are dropped/,
    );
    expect(r.acceptLocalOff.table).toEqual(ALL);
  });

  it("takes its pins and its nft table out on SIGTERM, leaving the director's service alone", () => {
    expect(r.stopped.code).toBe(0);
    expect(r.stopped.ipvs.filter((line) => line.includes("-f "))).toEqual([]);
    expect(r.stopped.ipvs).toContain("-A -t 192.0.2.10:80 -s rr");
    expect(r.stopped.nftTables.filter((t) => t.includes("lvsq_path"))).toEqual([]);
  });
});
