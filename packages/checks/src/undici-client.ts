// The two parts of undici the checks use, imported from their own modules. undici's index also loads its
// fetch, WebSocket, cache and mock stacks (and, through `globalThis.Headers`, Node's built-in copy of undici):
// about 0.2 s of a process start unbundled, still tens of milliseconds bundled, paid by every `lvsq probe`
// and `lvsq run` before the first check. undici has no "exports" map, and its version is pinned
// (package.json); src/undici-client.test.ts fails if either module stops being what the index exports.
import buildConnector from "undici/lib/core/connect.js";
import Client from "undici/lib/dispatcher/client.js";

export { buildConnector, Client };
