// Types for the undici modules src/undici-client.ts imports directly: the index's declarations of the same
// values (a class and a function with its namespace), so both their value and type meanings carry over.
declare module "undici/lib/core/connect.js" {
  import { buildConnector } from "undici";
  export default buildConnector;
}
declare module "undici/lib/dispatcher/client.js" {
  import { Client } from "undici";
  export default Client;
}
