import * as undici from "undici";
import { describe, expect, it } from "vitest";
import { buildConnector, Client } from "./undici-client.js";

describe("undici-client", () => {
  it("is the Client and buildConnector that undici's index exports", () => {
    expect(Client).toBe(undici.Client);
    expect(buildConnector).toBe(undici.buildConnector);
  });
});
