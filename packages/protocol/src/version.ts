/**
 * The lvsq version reported in heartbeats and `--version`. Its own module (`@lvsq/protocol/version`) so the
 * CLI's entry can print it without loading the wire schemas.
 */
export const LVSQ_VERSION = "0.1.0";
