import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./errors.js";
import { loadConfig, parseConfig } from "./load.js";

const root = new URL("../../../", import.meta.url).pathname;
const badDir = join(root, "test/fixtures/config/bad");
const expectations = JSON.parse(readFileSync(join(badDir, "expectations.json"), "utf8")) as Record<
  string,
  { path: string; fragment: string }
>;

async function loadError(path: string): Promise<ConfigError> {
  const error = await loadConfig(path, { env: {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe("loadConfig: the examples", () => {
  it("reads the seed (the shell loop) as a standalone config with its numbers", async () => {
    const config = await loadConfig(join(root, "docs/examples/seed.yaml"), { env: {} });
    expect(config.standalone).toBe(true);
    const web = config.services.web!;
    expect(web.vip).toBe("192.168.1.100:80");
    expect(web.scheduler).toBe("wrr");
    expect(web.forwarding).toBe("dr");
    expect(web.realServers.map((rs) => [rs.address, rs.weight])).toEqual([
      ["192.168.1.102:80", 1],
      ["192.168.1.103:80", 3],
    ]);
    expect(web.fallback).toEqual([expect.objectContaining({ address: "127.0.0.1:80", weight: 1 })]);
    expect(web.check).toMatchObject({ type: "http", intervalMs: 5000, timeoutMs: 1000, fall: 3, rise: 1 });
    expect(Object.isFrozen(config) && Object.isFrozen(web.realServers[0])).toBe(true);
  });

  it("reads the multi-site example: 3 sites, 3 probes, a pair, two services", async () => {
    const config = await loadConfig(join(root, "docs/examples/multi-site.yaml"), { env: {} });
    expect(config.standalone).toBe(false);
    expect(config.sites).toEqual(["dc1", "dc2", "dc3"]);
    expect(config.directors.map((d) => d.pair)).toEqual(["edge", "edge"]);
    expect(config.services.web!.check).toMatchObject({
      type: "http",
      path: "/healthz",
      intervalMs: 2000,
      expectStatus: [[200, 399]],
    });
    // a dns service under http defaults keeps the timing but not the http fields
    expect(config.services.dns!.check).toEqual({
      type: "dns",
      intervalMs: 3000,
      timeoutMs: 1000,
      rise: 2,
      fall: 3,
      query: "www.example.com",
      queryType: "A",
      transport: "udp",
      expectRcode: ["NOERROR"],
      expectAnswer: "^192\\.0\\.2\\.",
      recurse: true,
    });
    expect(config.services.web!.removalLimit).toEqual({ max: "50%", perMs: 30_000 });
  });

  it("lets LVSQ_NATS_URL and LVSQ_IPVSADM override the file", async () => {
    const config = await loadConfig(join(root, "docs/examples/multi-site.yaml"), {
      env: { LVSQ_NATS_URL: "nats://127.0.0.1:1, nats://127.0.0.2:2", LVSQ_IPVSADM: "/opt/ipvsadm" },
    });
    expect(config.nats.servers).toEqual(["nats://127.0.0.1:1", "nats://127.0.0.2:2"]);
    expect(config.director.ipvsadm).toBe("/opt/ipvsadm");
  });

  it("takes director.driver from the file, LVSQ_IPVS_DRIVER overriding it, and refuses any other driver", () => {
    const yaml = (driver: string) =>
      `cluster: c\ndirector: { driver: ${driver} }\nservices:\n  s: { vip: 192.0.2.1:80, realServers: [{ address: 198.51.100.1:80 }] }\n`;
    expect(parseConfig(yaml("ipvsadm"), "d.yaml", { env: {} }).director.driver).toBe("ipvsadm");
    expect(
      parseConfig(yaml("ipvsadm"), "d.yaml", { env: { LVSQ_IPVS_DRIVER: "netlink" } }).director.driver,
    ).toBe("netlink");
    expect(() => parseConfig(yaml("ipvsadm"), "d.yaml", { env: { LVSQ_IPVS_DRIVER: "ioctl" } })).toThrow(
      'd.yaml: director.driver: environment LVSQ_IPVS_DRIVER is "ioctl", expected netlink or ipvsadm',
    );
    expect(() => parseConfig(yaml("exec"), "d.yaml", { env: {} })).toThrow(
      /d\.yaml:2: director\.driver: .*netlink.*ipvsadm/,
    );
  });
});

describe("loadConfig: bad input is refused with file, line, path and expectation", () => {
  const names = Object.keys(expectations);
  it("has at least 40 bad fixtures", () => expect(names.length).toBeGreaterThanOrEqual(40));

  it.each(names)("%s", async (name) => {
    const { path, fragment } = expectations[name]!;
    const error = await loadError(join(badDir, name));
    expect(error.code).toBe("config_invalid");
    expect(error.message).toContain(join(badDir, name));
    expect(error.message).toContain(fragment);
    if (path !== "") {
      const issue = error.issues.find((i) => i.path === path);
      expect(issue, `no issue at ${path} in:\n${error.message}`).toBeDefined();
      expect(issue!.line, "the YAML line of the field").toBeGreaterThan(0);
    }
  });

  it("a missing file", async () => {
    const error = await loadError(join(badDir, "does-not-exist.yaml"));
    expect(error.message).toContain("no such file");
  });

  it("a directory", async () => {
    const error = await loadError(badDir);
    expect(error.message).toContain("is a directory");
  });

  it("reports every problem at once, not only the first", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lvsq-config-"));
    const file = join(dir, "many.yaml");
    writeFileSync(
      file,
      "cluster: t\nservices:\n  web:\n    vip: 1.2.3\n    realServers: [{ address: x, weight: -1 }]\n",
    );
    const error = await loadError(file);
    expect(error.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining([
        "services.web.vip",
        "services.web.realServers[0].address",
        "services.web.realServers[0].weight",
      ]),
    );
  });
});

describe("parseConfig: defaults", () => {
  it("fills ipvsadm's and lvsq's defaults", () => {
    const config = parseConfig(
      'cluster: c\nservices:\n  s:\n    vip: "[2001:DB8::1]:443"\n    realServers: [{ address: "[2001:db8::2]:443" }]\n',
      "inline.yaml",
      { env: {} },
    );
    const s = config.services.s!;
    expect(s).toMatchObject({
      vip: "[2001:db8::1]:443",
      family: "inet6",
      protocol: "tcp",
      scheduler: "wlc",
      forwarding: "dr",
      onDown: "remove",
      persistenceMs: 0,
    });
    expect(s.realServers[0]).toMatchObject({ address: "[2001:db8::2]:443", weight: 1, forwarding: "dr" });
    expect(config.quorum).toEqual({
      by: "site",
      down: "majority",
      up: "majority",
      voteTtlMs: 6000,
      startupGraceMs: 10_000,
    });
    expect(config.director).toEqual({
      ipvsadm: "ipvsadm",
      reconcileIntervalMs: 10_000,
      leaseTtlMs: 3000,
      notify: { role: undefined, timeoutMs: 10_000 },
    });
    expect(config.probes).toEqual([{ id: "local", site: "local" }]);
  });

  it("accepts fwmark services with a family", () => {
    const config = parseConfig(
      'cluster: c\nservices:\n  m:\n    fwmark: 7\n    family: inet6\n    realServers: [{ address: "[2001:db8::2]:80" }]\n',
      "f.yaml",
      { env: {} },
    );
    expect(config.services.m).toMatchObject({ fwmark: 7, family: "inet6" });
  });
});

describe("parseConfig: real servers without a port", () => {
  const load = (text: string) => parseConfig(text, "p.yaml", { env: {} });

  it("gives a fwmark service's port-less real servers port 0, as ipvsadm shows them", () => {
    const config = load(
      'cluster: c\nservices:\n  m:\n    fwmark: 7\n    check: { type: tcp, port: 25 }\n    realServers: [{ address: 198.51.100.31 }, { address: "198.51.100.32:0" }]\n  m6:\n    fwmark: 8\n    family: inet6\n    check: { type: icmp }\n    realServers: [{ address: "2001:db8::5" }, { address: "[2001:DB8::6]" }]\n',
    );
    expect(config.services.m!.realServers.map((rs) => rs.address)).toEqual([
      "198.51.100.31:0",
      "198.51.100.32:0",
    ]);
    expect(config.services.m6!.realServers.map((rs) => rs.address)).toEqual([
      "[2001:db8::5]:0",
      "[2001:db8::6]:0",
    ]);
  });

  it("gives a vip service's port-less real servers the VIP's port", () => {
    const config = load(
      "cluster: c\nservices:\n  w:\n    vip: 192.0.2.1:8443\n    realServers: [{ address: 198.51.100.1 }]\n    fallback: [{ address: 127.0.0.1 }]\n",
    );
    expect(config.services.w!.realServers[0]!.address).toBe("198.51.100.1:8443");
    expect(config.services.w!.fallback[0]!.address).toBe("127.0.0.1:8443");
  });
});

describe("parseConfig: dr and tunnel real servers take the VIP's port", () => {
  const load = (text: string) => parseConfig(text, "p.yaml", { env: {} });

  it("holds a dr/tunnel server under the VIP's port, as ipvsadm and keepalived do, and checks it on its own", () => {
    const config = load(
      "cluster: c\nservices:\n  w:\n    vip: 192.0.2.1:80\n    realServers:\n      - { address: 198.51.100.1:8080 }\n      - { address: 198.51.100.2:8080, forwarding: tunnel }\n      - { address: 198.51.100.3:8080, forwarding: nat }\n      - { address: 198.51.100.4:80 }\n  m:\n    fwmark: 7\n    realServers: [{ address: 198.51.100.5:8443 }]\n",
    );
    expect(config.services.w!.realServers.map((rs) => [rs.address, rs.checkAddress])).toEqual([
      ["198.51.100.1:80", "198.51.100.1:8080"],
      ["198.51.100.2:80", "198.51.100.2:8080"],
      ["198.51.100.3:8080", undefined], // nat rewrites the port: the kernel keeps the written one
      ["198.51.100.4:80", undefined],
    ]);
    // A fwmark service has no port: a dr server is the kernel's ip:0, checked on the port it was written with.
    expect(config.services.m!.realServers[0]).toMatchObject({
      address: "198.51.100.5:0",
      checkAddress: "198.51.100.5:8443",
    });
  });

  it("refuses two dr servers that the kernel would hold as one, saying why", () => {
    expect(() =>
      load(
        "cluster: c\nservices:\n  w:\n    vip: 192.0.2.1:80\n    realServers: [{ address: 127.0.0.1:8081 }, { address: 127.0.0.1:8082 }]\n",
      ),
    ).toThrow(
      /services\.w\.realServers\[1\]\.address: real server 127\.0\.0\.1:8082 is the kernel's 127\.0\.0\.1:80 \(with forwarding dr a packet keeps the VIP's port\).*forwarding: nat/,
    );
  });
});
