import { describe, expect, it } from "vitest";
import { natsCredentials, OPERATOR_USER, VIEWER_USER } from "./credentials.js";
import { ConfigError } from "./errors.js";
import { parseConfig } from "./load.js";

const fleet = (nats: string, probeExtra = "", directorExtra = "") => `cluster: c
nats: ${nats}
sites: [s1]
probes: [{ id: p1, site: s1${probeExtra} }, { id: p2, site: s1 }]
directors: [{ id: d1, pair: x${directorExtra} }, { id: d2, pair: x }]
services:
  web: { vip: 192.0.2.1:80, realServers: [{ address: 198.51.100.1:80 }] }
`;
const parse = (text: string) => parseConfig(text, "fleet.yaml", { env: {} });

describe("natsCredentials: one file per agent", () => {
  const config = parse(
    fleet(
      '{ servers: [tls://127.0.0.1:4222], creds: "/etc/lvsq/nats/{id}.nk", tls: { ca: /etc/lvsq/tls/ca.pem, cert: "/etc/lvsq/tls/{id}.pem", key: "/etc/lvsq/tls/{id}.key" } }',
      ", creds: /srv/p1-own.creds",
      ', creds: "/srv/{id}.d.nk"',
    ),
  );

  it.each([
    ["p1", "/srv/p1-own.creds", "probes[0].creds"],
    ["p2", "/etc/lvsq/nats/p2.nk", "nats.creds"],
    ["d1", "/srv/d1.d.nk", "directors[0].creds"],
    ["d2", "/etc/lvsq/nats/d2.nk", "nats.creds"],
    [OPERATOR_USER, "/etc/lvsq/nats/lvsq-operator.nk", "nats.creds"],
    [VIEWER_USER, "/etc/lvsq/nats/lvsq-viewer.nk", "nats.creds"],
  ])("%s connects with %s (from %s)", (identity, creds, field) => {
    const got = natsCredentials(config, identity);
    expect(got.creds).toBe(creds);
    expect(got.credsField).toBe(field);
    expect(got.tls).toEqual({
      ca: "/etc/lvsq/tls/ca.pem",
      cert: `/etc/lvsq/tls/${identity}.pem`,
      key: `/etc/lvsq/tls/${identity}.key`,
    });
  });

  it("has nothing to add when the config names no credentials", () => {
    expect(natsCredentials(parse(fleet("{ servers: [nats://127.0.0.1:4222] }")), "p1")).toEqual({});
  });
});

describe("credential paths in the config", () => {
  it.each([
    ['{ servers: [nats://a:4222], creds: "/etc/{name}.creds" }', "nats.creds", "only placeholder is {id}"],
    ["{ servers: [nats://a:4222], tls: { cert: /c.pem } }", "nats.tls", "cert and key together"],
    ["{ servers: [nats://a:4222], creds: '' }", "nats.creds", "expected a file path"],
  ])("%s is refused at %s", (nats, path, fragment) => {
    let error: unknown;
    try {
      parse(fleet(nats));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issue = (error as ConfigError).issues.find((i) => i.path === path);
    expect(issue?.message).toContain(fragment);
  });

  it("refuses a probe's creds with a placeholder other than {id}", () => {
    expect(() => parse(fleet("{ servers: [nats://a:4222] }", ', creds: "/x/{probe}"'))).toThrow(
      /probes\[0\]\.creds.*only placeholder is \{id\}/s,
    );
  });
});
