import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "@lvsq/config";
import { createLogger } from "@lvsq/runtime";
import { FleetModel, serveStatusPage } from "@lvsq/status";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Backend,
  type LvsqProcess,
  repoRoot,
  startBackend,
  startLvsq,
  tempConfig,
  waitFor,
} from "../harness/agents.js";
import { type NatsServerHandle, startNatsServer } from "../harness/nats.js";
import { leaderSeenBy, rsArg, startDirector, waitForCommand } from "./status-fleet.js";

const CHROMIUM = "/usr/bin/chromium";
const OUT_DIR = join(repoRoot, "test/out");
const VIP = "192.0.2.20:80";

// A real `lvsq probe` checks three loopback backends over a real nats-server; the real director pair `edge`
// (d1 leads, d2 follows; `--dry-run`: no IPVS on this host) decides; `lvsq status --web` serves the page;
// Debian's Chromium renders it.
describe("lvsq status --web in real Chromium", () => {
  let nats: NatsServerHandle;
  let backends: Backend[] = [];
  let probe: LvsqProcess | undefined;
  let status: LvsqProcess | undefined;
  let browser: Browser | undefined;
  const directors: LvsqProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} not found (needed by this test): apt-get install -y chromium`);
    }
    nats = await startNatsServer();
    backends = await Promise.all([startBackend(), startBackend(), startBackend()]);
    const config = tempConfig(`cluster: web
nats: { servers: [${nats.url}] }
defaults: { check: { type: http, path: /, interval: 300ms, timeout: 200ms, rise: 2, fall: 2 } }
quorum: { startupGrace: 1s }
sites: [s1]
probes: [{ id: p1, site: s1 }]
directors: [{ id: d1, pair: edge }, { id: d2, pair: edge }]
services:
  web:
    vip: ${VIP}
    # loopback backends share one address: NAT keeps their ports apart (dr would make them one)
    forwarding: nat
    realServers: [${backends.map((b) => `{ address: ${b.address} }`).join(", ")}]
`);
    probe = startLvsq(["probe", "--config", config, "--id", "p1"]);
    directors.push(await startDirector(config, "d1"));
    await waitFor("d1 leads", () => leaderSeenBy(directors[0]!) === "d1");
    directors.push(await startDirector(config, "d2"));
    await waitFor("d2 follows d1", () => leaderSeenBy(directors[1]!) === "d1");
    status = startLvsq(["status", "--config", config, "--web", "127.0.0.1:0"]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([
      probe?.stop("SIGKILL"),
      status?.stop("SIGTERM"),
      ...directors.map((d) => d.stop("SIGKILL")),
    ]);
    await Promise.all(backends.map((b) => b.close()));
    await nats?.dispose();
  });

  it("shows every real server, turns a failed backend's cell down within 3 s, explains its votes", async () => {
    const url = await waitFor("the status page url", () =>
      status!.lines.map((l) => /^status page: (http\S+)/.exec(l)?.[1]).find(Boolean),
    );
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    await page.goto(url, { timeout: 10_000 });
    const cell = (rs: string) => page.locator(`.rs[data-rs="${rs}"]`);
    await page.locator(".rs").first().waitFor({ timeout: 10_000 });
    expect(await page.locator(".rs").count()).toBe(3);
    for (const b of backends) {
      await waitFor(
        "every cell up",
        async () => (await cell(b.address).getAttribute("data-state")) === "up",
        10_000,
        50,
      );
    }
    expect(await page.locator('#link[data-link="live"]').count()).toBe(1);
    // Heartbeats come every 2 s.
    for (const row of ['tr[data-probe="p1"]', 'tr[data-director="d1"]', 'tr[data-director="d2"]']) {
      await waitFor(
        `${row} fresh`,
        async () => (await page.locator(`${row} [data-freshness="fresh"]`).count()) === 1,
        5000,
        50,
      );
    }

    const failing = backends[1]!;
    const failedAt = Date.now();
    failing.setStatus(503);
    await waitFor(
      "the failed backend's cell down",
      async () => (await cell(failing.address).getAttribute("data-state")) === "down",
      3000,
      25,
    );
    const tookMs = Date.now() - failedAt;
    expect(tookMs).toBeLessThan(3000);
    expect(await cell(backends[0]!.address).getAttribute("data-state")).toBe("up");
    // Every snapshot re-renders the grid, so the cell read may be a detached one (no computed style): poll.
    const red = "rgb(209, 60, 60)";
    const colourOf = (rs: string) =>
      cell(rs)
        .evaluate((el) => getComputedStyle(el).backgroundColor)
        .catch(() => "");
    await waitFor(
      "the failed backend's cell red",
      async () => (await colourOf(failing.address)) === red,
      2000,
      25,
    );

    // Hover shows the vote breakdown by site; a click opens it as a table.
    expect(await cell(failing.address).getAttribute("title")).toMatch(/s1 → down: p1 down "HTTP 503/);
    await cell(failing.address).click();
    const detail = page.locator("#detail");
    await detail.waitFor({ state: "visible", timeout: 2000 });
    const cells = await detail.locator('tr[data-site="s1"] td').allTextContents();
    expect(cells.slice(0, 4)).toEqual(["s1", "down", "p1", "down"]);
    expect(cells[6]).toContain("HTTP 503");
    // The real directors take it out; the leader's rs-down event reaches the timeline.
    for (const director of directors)
      await waitForCommand(director, new RegExp(`^ipvsadm -d -t ${VIP} ${rsArg(failing.address)}$`));
    await waitFor("the timeline lists the transition", async () =>
      (
        await page
          .locator('#timeline li[data-type="rs-down"]')
          .textContent()
          .catch(() => "")
      )?.includes(failing.address),
    );
    expect(await page.locator('#timeline li[data-type="rs-down"] .meta').first().textContent()).toBe("[d1] ");
    // The pair in the directors table: roles, one epoch, identical digests, no red badge.
    const rowCells = (id: string) => page.locator(`tr[data-director="${id}"] td`).allTextContents();
    await waitFor("both directors show the same digest", async () => {
      const [d1, d2] = [await rowCells("d1"), await rowCells("d2")];
      return d1[4] !== "-" && d1[4] === d2[4] && d1[6]?.startsWith("fresh");
    });
    const [d1, d2] = [await rowCells("d1"), await rowCells("d2")];
    expect([d1.slice(0, 3), d2.slice(0, 3)]).toEqual([
      ["d1", "edge", "leader"],
      ["d2", "edge", "follower"],
    ]);
    expect(d2[3]).toBe(d1[3]);
    expect(await page.locator("#directors .badge.alarm").count()).toBe(0);

    mkdirSync(OUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUT_DIR, "status-web.png"), fullPage: true });
    // Everything came from the status server itself: no CDN, no other host.
    expect(requests.every((r) => r.startsWith(url))).toBe(true);
  }, 50_000);

  it("says when a vote's flip is under way: down, rising 1/2, last check HTTP 200", async () => {
    // A status page served in this process from a model fed one vote: the page's words, without timing.
    const config = parseConfig(
      `cluster: flip
sites: [s1]
probes: [{ id: p1, site: s1 }]
directors: [{ id: d1 }]
services: { web: { vip: ${VIP}, realServers: [{ address: 198.51.100.7:80 }] } }
`,
      "flip.yaml",
      { env: {} },
    );
    const model = new FleetModel(config);
    model.ingestVotes(
      {
        v: 1,
        cluster: "flip",
        probe: "p1",
        site: "s1",
        service: "web",
        seq: 1,
        sentAt: Date.now(),
        intervalMs: 1000,
        votes: [
          {
            rs: "198.51.100.7:80",
            state: "down",
            since: Date.now(),
            latencyMs: 1,
            reason: "HTTP 200",
            pending: { state: "up", count: 1, needed: 2 },
          },
        ],
      },
      Date.now(),
    );
    const server = await serveStatusPage("127.0.0.1:0", model, createLogger({ level: "silent" }));
    try {
      const page = await browser!.newPage();
      await page.goto(server.url, { timeout: 10_000 });
      const cell = page.locator('.rs[data-rs="198.51.100.7:80"]');
      await cell.waitFor({ timeout: 10_000 });
      expect(await cell.getAttribute("title")).toContain('p1 down, rising 1/2, last check "HTTP 200"');
      await cell.click();
      const row = page.locator('#detail tr[data-site="s1"] td');
      await row.first().waitFor({ timeout: 2000 });
      const cells = await row.allTextContents();
      expect(cells[3]).toBe("down, rising 1/2");
      expect(cells[6]).toBe("HTTP 200");
      await page.close();
    } finally {
      await server.close();
    }
  }, 30_000);
});
