export * from "./address.js";
export * from "./desired.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./heartbeat.js";
export * from "./ids.js";
export * from "./names.js";
export * from "./table.js";
export * from "./votes.js";

/** The lvsq version reported in heartbeats and `--version`. */
export const LVSQ_VERSION = "0.1.0";
