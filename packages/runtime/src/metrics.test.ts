import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";
import {
  createDirectorMetrics,
  createMetricsRegistry,
  createProbeMetrics,
  parseHostPort,
  serveMetrics,
} from "./metrics.js";

const quiet = createLogger({ level: "silent" });

describe("metrics", () => {
  it.each([
    ["127.0.0.1:9101", { host: "127.0.0.1", port: 9101 }],
    ["[::1]:0", { host: "::1", port: 0 }],
    [":9101", { host: "127.0.0.1", port: 9101 }],
    ["9101", { host: "127.0.0.1", port: 9101 }],
    ["0.0.0.0:9101", { host: "0.0.0.0", port: 9101 }],
    ["[::]:9101", { host: "::", port: 9101 }],
    ["localhost:80", { host: "localhost", port: 80 }],
  ])("parses %s", (text, expected) => expect(parseHostPort(text)).toEqual(expected));

  it.each(["127.0.0.1", "1.2.3.4:70000", "::1:80", "a:b"])("rejects %s", (text) =>
    expect(parseHostPort(text)).toHaveProperty("error"),
  );

  it("serves probe and director metrics as Prometheus text on /metrics", async () => {
    const registry = createMetricsRegistry();
    const probe = createProbeMetrics(registry);
    const director = createDirectorMetrics(registry);
    probe.recordCheck("web", "up", 3);
    probe.recordCheck("web", "down", 1000);
    probe.voteFlips.inc({ service: "web" });
    director.votesReceived.inc(5);
    director.votesDropped.inc({ reason: "replayed-seq" });
    director.setRealServers("web", 2, 1);
    director.recordApply(true, 18);
    director.setRole("isolated");
    director.leaderEpoch.set(1289);
    const server = await serveMetrics("127.0.0.1:0", registry, quiet);
    try {
      const res = await fetch(server.url, { signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/plain");
      const text = await res.text();
      expect(text).toContain('lvsq_probe_checks_total{service="web",result="up"} 1');
      expect(text).toContain('lvsq_probe_check_duration_seconds_bucket{le="1",service="web"} 2');
      expect(text).toContain('lvsq_director_votes_dropped_total{reason="replayed-seq"} 1');
      expect(text).toContain('lvsq_director_real_servers{service="web",state="down"} 1');
      expect(text).toContain("lvsq_director_isolated 1");
      expect(text).toContain('lvsq_director_role{role="isolated"} 1');
      expect(text).toContain("lvsq_director_leader_epoch 1289");
      expect(text).toContain("lvsq_process_resident_memory_bytes");
      const missing = await fetch(server.url.replace("/metrics", "/nope"), {
        signal: AbortSignal.timeout(5000),
      });
      expect(missing.status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it("rejects an address it cannot bind", async () => {
    await expect(serveMetrics("nonsense", createMetricsRegistry(), quiet)).rejects.toThrow(/HOST:PORT/);
    await expect(serveMetrics("192.0.2.1:0", createMetricsRegistry(), quiet)).rejects.toThrow();
  });
});
