import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type Bus, connectNatsBus } from "@lvsq/bus";
import { type DirectorHeartbeat, type EventEnvelope, subjects } from "@lvsq/protocol";
import { createLogger } from "@lvsq/runtime";
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

const CHROMIUM = "/usr/bin/chromium";
const OUT_DIR = join(repoRoot, "test/out");
const quiet = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, cb) => cb() }) });

// A real `lvsq probe` checks three loopback backends over a real nats-server; `lvsq status --web` serves the
// page; Debian's Chromium renders it. The director is played by the test (heartbeats only) until issue 6
// lands: SWITCH TO REAL DIRECTOR for the directors table assertion.
describe("lvsq status --web in real Chromium", () => {
  let nats: NatsServerHandle;
  let backends: Backend[] = [];
  let probe: LvsqProcess | undefined;
  let status: LvsqProcess | undefined;
  let browser: Browser | undefined;
  let bus: Bus;
  let beats: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} not found (needed by this test): apt-get install -y chromium`);
    }
    nats = await startNatsServer();
    backends = await Promise.all([startBackend(), startBackend(), startBackend()]);
    const config = tempConfig(`cluster: web
nats: { servers: [${nats.url}] }
defaults: { check: { type: http, path: /, interval: 300ms, timeout: 200ms, rise: 2, fall: 2 } }
sites: [s1]
probes: [{ id: p1, site: s1 }]
directors: [{ id: d1 }]
services:
  web:
    vip: 192.0.2.20:80
    realServers: [${backends.map((b) => `{ address: ${b.address} }`).join(", ")}]
`);
    bus = await connectNatsBus({ servers: [nats.url], name: "test-director", logger: quiet });
    const beat = () => bus.publish(subjects.directorStatus("web", "d1"), directorBeat());
    beat();
    beats = setInterval(beat, 1000);
    probe = startLvsq(["probe", "--config", config, "--id", "p1"]);
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
    clearInterval(beats);
    await browser?.close();
    await Promise.all([probe?.stop("SIGKILL"), status?.stop("SIGTERM")]);
    await bus?.close();
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
    // Heartbeats come every 2 s (probe) and 1 s (the test's director).
    for (const row of ['tr[data-probe="p1"]', 'tr[data-director="d1"]']) {
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
    const colour = await cell(failing.address).evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(colour).toBe("rgb(209, 60, 60)");

    // Hover shows the vote breakdown by site; a click opens it as a table.
    expect(await cell(failing.address).getAttribute("title")).toMatch(/s1 → down: p1 down "HTTP 503/);
    await cell(failing.address).click();
    const detail = page.locator("#detail");
    await detail.waitFor({ state: "visible", timeout: 2000 });
    const cells = await detail.locator('tr[data-site="s1"] td').allTextContents();
    expect(cells.slice(0, 4)).toEqual(["s1", "down", "p1", "down"]);
    expect(cells[6]).toContain("HTTP 503");
    // The director's event (SWITCH TO REAL DIRECTOR: it publishes this itself) reaches the timeline.
    bus.publish(subjects.events("web", "web"), rsDownEvent(failing.address));
    await waitFor("the timeline lists the transition", async () =>
      (
        await page
          .locator('#timeline li[data-type="rs-down"]')
          .textContent()
          .catch(() => "")
      )?.includes(failing.address),
    );

    mkdirSync(OUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUT_DIR, "status-web.png"), fullPage: true });
    // Everything came from the status server itself: no CDN, no other host.
    expect(requests.every((r) => r.startsWith(url))).toBe(true);
  }, 50_000);
});

function rsDownEvent(rs: string): EventEnvelope {
  const tally = { by: "site", up: 0, down: 1, total: 1, upNeeded: 1, downNeeded: 1 };
  const votes = [{ probe: "p1", site: "s1", state: "down", ageMs: 120, reason: "HTTP 503" }];
  return {
    v: 1,
    cluster: "web",
    director: "d1",
    service: "web",
    at: Date.now(),
    event: { type: "rs-down", service: "web", rs, action: "remove", tally, votes },
  };
}

function directorBeat(): DirectorHeartbeat {
  const now = Date.now();
  return {
    v: 1,
    type: "director",
    cluster: "web",
    director: "d1",
    role: "standalone",
    version: "0.1.0",
    sentAt: now,
    uptimeMs: 1000,
    epoch: 0,
    appliedEpoch: 0,
    tableDigest: "c0ffee",
    lastApplyAt: now - 2000,
    lastApplyMs: 7,
    counts: {
      votesAccepted: 1,
      votesDropped: 0,
      applies: 1,
      applyErrors: 0,
      driftRepairs: 0,
      realServersUp: 3,
      realServersDown: 0,
    },
  };
}
