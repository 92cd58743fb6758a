import { describe, expect, it } from "vitest";
import { canonicalEndpoint, parseEndpoint } from "./address.js";

describe("parseEndpoint", () => {
  it.each([
    ["192.0.2.1:80", "192.0.2.1:80"],
    ["[2001:DB8:0:0::1]:443", "[2001:db8::1]:443"],
    ["[::1]:80", "[::1]:80"],
  ])("canonicalises %s", (input, expected) => {
    expect(canonicalEndpoint(input)).toBe(expected);
  });

  it.each([
    ["192.0.2.1", "port is missing"],
    ["256.0.0.1:80", "not an IPv4"],
    ["192.0.2.1:0", "outside 1-65535"],
    ["192.0.2.1:http", "not a port"],
    ["2001:db8::1:80", "must be bracketed"],
    ["[2001:db8::zz]:80", "not an IPv6"],
    ["example.com:80", "not resolved"],
  ])("rejects %s", (input, fragment) => {
    const parsed = parseEndpoint(input);
    expect("error" in parsed && parsed.error).toContain(fragment);
  });
});
