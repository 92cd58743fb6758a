import { describe, expect, it } from "vitest";
import { classifyHttpError } from "./http-errors.js";
import { cutDetail, makeResult } from "./result.js";
import { formatAuthority, splitEndpoint } from "./target.js";

describe("cutDetail", () => {
  it("keeps short text and cuts long text on a character boundary at 256 bytes", () => {
    expect(cutDetail("short")).toBe("short");
    const cut = cutDetail(`a${"é".repeat(200)}`); // 'é' is 2 bytes: byte 256 falls inside one
    expect(Buffer.byteLength(cut)).toBe(255);
    expect(cut).not.toContain("\uFFFD");
    expect(Buffer.byteLength(cutDetail("€".repeat(100)))).toBe(255);
  });
});

describe("makeResult", () => {
  it("caps the reason and leaves out an empty detail", () => {
    const result = makeResult("down", performance.now(), "x".repeat(500), { detail: "" });
    expect(result.reason.length).toBe(200);
    expect(result).not.toHaveProperty("detail");
  });
});

describe("splitEndpoint", () => {
  it.each([
    ["192.0.2.1:80", undefined, { host: "192.0.2.1", port: 80, family: 4 }],
    ["[2001:db8::1]:443", undefined, { host: "2001:db8::1", port: 443, family: 6 }],
    ["192.0.2.1:80", 8080, { host: "192.0.2.1", port: 8080, family: 4 }],
  ] as const)("splits %s (port %s)", (address, port, expected) => {
    expect(splitEndpoint(address, port)).toEqual(expected);
  });

  it.each(["nonsense", "[2001:db8::1]80", "192.0.2.1:0", "192.0.2.1:http", ":80"])(
    "rejects %s",
    (address) => {
      expect(splitEndpoint(address)).toHaveProperty("error");
    },
  );

  it("brackets IPv6 in an authority", () => {
    expect(formatAuthority({ host: "::1", port: 80, family: 6 })).toBe("[::1]:80");
  });
});

describe("classifyHttpError", () => {
  const withCode = (code: string, message = code) => Object.assign(new Error(message), { code });
  it.each([
    [withCode("ECONNREFUSED"), "connect", ["down", "connect ECONNREFUSED"]],
    [withCode("ECONNRESET"), "headers", ["down", "ECONNRESET in headers"]],
    [withCode("EHOSTUNREACH"), "connect", ["down", "connect EHOSTUNREACH"]],
    [withCode("EMFILE"), "connect", ["abstain", "connect EMFILE"]],
    [withCode("ENOBUFS"), "headers", ["abstain", "headers ENOBUFS"]],
    [withCode("EADDRNOTAVAIL"), "connect", ["abstain", "connect EADDRNOTAVAIL"]],
    [withCode("UND_ERR_CONNECT_TIMEOUT"), "connect", ["down", "timeout after 1000 ms in connect"]],
    [withCode("UND_ERR_HEADERS_TIMEOUT"), "headers", ["down", "timeout after 1000 ms in headers"]],
    [withCode("UND_ERR_BODY_TIMEOUT"), "body", ["down", "timeout after 1000 ms in body"]],
    [withCode("UND_ERR_SOCKET"), "body", ["down", "connection closed in body"]],
    [
      withCode("CERT_HAS_EXPIRED", "certificate has expired"),
      "connect",
      ["down", "TLS: certificate has expired"],
    ],
    [new TypeError("oops"), "headers", ["abstain", "checker error: oops"]],
  ] as const)("%s in %s", (error, phase, expected) => {
    expect(classifyHttpError(error, phase, 1000)).toEqual(expected);
  });
});

describe("splitEndpoint for a real server without a port (fwmark)", () => {
  it("needs the check's port", () => {
    expect(splitEndpoint("198.51.100.31:0")).toEqual({
      error: "real server 198.51.100.31:0 has no port (fwmark service): set check.port",
    });
    expect(splitEndpoint("198.51.100.31:0", 25)).toEqual({ host: "198.51.100.31", port: 25, family: 4 });
    expect(splitEndpoint("[2001:db8::5]:0", 25)).toEqual({ host: "2001:db8::5", port: 25, family: 6 });
  });
});
