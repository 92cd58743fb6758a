import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { authorizes, HttpAuth, parseHttpAuth, requireAuth } from "./http-auth.js";
import { createLogger } from "./logger.js";

const quiet = createLogger({ level: "silent" });
const TOKEN = "0123456789abcdef0123";
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

describe("parseHttpAuth", () => {
  it("reads bearer and basic lines, comments and blanks, and a file of one bare token", () => {
    expect(parseHttpAuth(`# scrapers\nbearer ${TOKEN}\n\nbasic ops:correct-horse-1\n`, "f")).toEqual([
      { type: "bearer", token: TOKEN },
      { type: "basic", user: "ops", password: "correct-horse-1" },
    ]);
    expect(parseHttpAuth(`${TOKEN}\n`, "f")).toEqual([{ type: "bearer", token: TOKEN }]);
  });

  it.each([
    ["", "f: no credentials"],
    ["# only a comment\n", "f: no credentials"],
    ["bearer short\n", "f:1: the token is shorter than 16 characters; make one with: openssl rand -hex 32"],
    [`bearer ${TOKEN}\nbasic ops:short\n`, "f:2: the password is shorter than 12 characters"],
    [`bearer ${TOKEN}\nbasic :nouser-password\n`, "f:2: expected `basic USER:PASSWORD`"],
    [`bearer ${TOKEN}\ndigest x\n`, "f:2: expected `bearer TOKEN` or `basic USER:PASSWORD`"],
    [`${TOKEN}\n${TOKEN}\n`, "f:1: expected `bearer TOKEN`"],
  ])("refuses %j: %s", (text, message) => {
    expect(() => parseHttpAuth(text, "f")).toThrow(message);
  });
});

describe("authorizes", () => {
  const credentials = parseHttpAuth(`bearer ${TOKEN}\nbasic ops:correct-horse-1\n`, "f");
  it.each([
    [`Bearer ${TOKEN}`, true],
    [`bearer ${TOKEN}`, true],
    [`Bearer ${TOKEN}x`, false],
    [basic("ops", "correct-horse-1"), true],
    [basic("ops", "correct-horse-2"), false],
    [basic("other", "correct-horse-1"), false],
    [`Basic ${TOKEN}`, false],
    ["", false],
    [undefined, false],
  ])("%s → %s", (header, ok) => expect(authorizes(credentials, header)).toBe(ok));
});

describe("HttpAuth and requireAuth on a real server", () => {
  it("answers 401 with a challenge, lets a credential through, and follows a rotated file", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "lvsq-auth-")), "auth");
    writeFileSync(file, `basic ops:correct-horse-1\n`);
    const auth = await HttpAuth.load(file, quiet);
    const server = createServer(requireAuth(auth, (_req, res) => res.end("secret\n")));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const denied = await fetch(url);
      expect(denied.status).toBe(401);
      expect(denied.headers.get("www-authenticate")).toContain('Basic realm="lvsq"');
      const allowed = await fetch(url, { headers: { authorization: basic("ops", "correct-horse-1") } });
      expect([allowed.status, await allowed.text()]).toEqual([200, "secret\n"]);

      // Rotation: the new token works, the old password no longer does; an unusable rewrite is ignored.
      writeFileSync(file, `${TOKEN}\n`);
      utimesSync(file, new Date(), new Date(Date.now() + 5_000));
      expect((await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
      expect((await fetch(url, { headers: { authorization: basic("ops", "correct-horse-1") } })).status).toBe(
        401,
      );
      writeFileSync(file, "bearer x\n");
      utimesSync(file, new Date(), new Date(Date.now() + 10_000));
      expect((await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("is the plain handler without an auth file", () => {
    const handler = () => {};
    expect(requireAuth(undefined, handler)).toBe(handler);
  });
});
