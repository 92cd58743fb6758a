import { z } from "zod";
import { Duration } from "./duration.js";

export const CheckType = z.enum([
  "http",
  "https",
  "tcp",
  "exec",
  "dns",
  "udp",
  "icmp",
  "smtp",
  "tls",
  "agent",
]);
export type CheckType = z.infer<typeof CheckType>;

const StatusItem = z.union(
  [
    z.number().int().min(100).max(599),
    z
      .string()
      .regex(/^[1-5]\d\d(-[1-5]\d\d)?$/, { message: 'expected a status like 200 or a range like "200-399"' }),
  ],
  { error: 'expected an HTTP status (200) or a range ("200-399")' },
);

const HttpMethod = z.enum(["GET", "HEAD", "POST", "PUT", "OPTIONS"]);

/** Query types a dns check can ask for (the ones dns-packet encodes and decodes). */
export const DnsQueryType = z.enum([
  "A",
  "AAAA",
  "CNAME",
  "MX",
  "NS",
  "PTR",
  "SOA",
  "SRV",
  "TXT",
  "CAA",
  "ANY",
]);
export const DnsRcode = z.enum(["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"]);

const Hex = z
  .string()
  .regex(/^([0-9A-Fa-f]{2})+$/, { message: "expected hex bytes, two digits each, like 0d0a" });
const RegExpText = z.string().refine(isRegExp, { message: "expected a valid regular expression" });
/** A DNS name: labels of 1-63 characters, or "." for the root. */
const DnsName = z
  .string()
  .regex(/^(\.|([A-Za-z0-9_*-]([A-Za-z0-9_-]{0,62})?\.?)+)$/, {
    message: 'expected a DNS name like "www.example.com" or "."',
  })
  .max(253);

/**
 * A check as written in the config: every field optional, because `defaults.check` and a service's `check`
 * are merged field by field before the result is validated for its type (see resolveCheck).
 */
export const CheckInput = z
  .strictObject({
    type: CheckType,
    interval: Duration,
    timeout: Duration,
    rise: z.number().int().min(1).max(100),
    fall: z.number().int().min(1).max(100),
    /** Check a port other than the real server's (e.g. a health port). */
    port: z.number().int().min(1).max(65535),
    path: z.string().startsWith("/", { message: 'expected a path starting with "/"' }),
    method: HttpMethod,
    host: z.string().min(1),
    headers: z.record(z.string(), z.string()),
    expectStatus: z.array(StatusItem).min(1),
    expectBody: RegExpText,
    tlsVerify: z.boolean(),
    sni: z.string().min(1),
    ca: z.string().min(1),
    /** Client certificate and key (PEM files) for mutual TLS. */
    cert: z.string().min(1),
    key: z.string().min(1),
    send: z.string(),
    sendHex: Hex,
    expect: z.string(),
    expectHex: Hex,
    expectRegex: RegExpText,
    requireReply: z.boolean(),
    command: z.array(z.string().min(1)).min(1),
    env: z.record(z.string(), z.string()),
    query: DnsName,
    queryType: DnsQueryType,
    transport: z.enum(["udp", "tcp"]),
    expectRcode: z.array(DnsRcode).min(1),
    expectAnswer: RegExpText,
    recurse: z.boolean(),
    heloName: z.string().regex(/^[A-Za-z0-9.[\]:_-]+$/, { message: "expected a host name for HELO/EHLO" }),
    starttls: z.boolean(),
    expiryDown: Duration,
    expiryWarn: Duration,
  })
  .partial();
export type CheckInput = z.input<typeof CheckInput>;
export type CheckParsed = z.output<typeof CheckInput>;

function isRegExp(text: string): boolean {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}

const Timing = {
  intervalMs: z.number(),
  timeoutMs: z.number(),
  rise: z.number(),
  fall: z.number(),
  port: z.number().optional(),
};
/** TLS settings shared by https, tls and smtp (STARTTLS). */
const Tls = {
  tlsVerify: z.boolean(),
  sni: z.string().optional(),
  ca: z.string().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
};
/** What a stream or datagram check sends and expects: text, or hex bytes. */
const Payload = {
  send: z.string().optional(),
  sendHex: z.string().optional(),
  expect: z.string().optional(),
  expectHex: z.string().optional(),
};

/** A resolved check, after merging defaults: what the checks package runs. */
export const CheckConfig = z.discriminatedUnion("type", [
  z.object({
    type: z.enum(["http", "https"]),
    ...Timing,
    path: z.string(),
    method: HttpMethod,
    host: z.string().optional(),
    headers: z.record(z.string(), z.string()),
    /** Inclusive ranges. */
    expectStatus: z.array(z.tuple([z.number(), z.number()])),
    expectBody: z.string().optional(),
    ...Tls,
  }),
  z.object({ type: z.literal("tcp"), ...Timing, ...Payload }),
  z.object({
    type: z.literal("exec"),
    ...Timing,
    command: z.array(z.string()),
    env: z.record(z.string(), z.string()),
  }),
  z.object({
    type: z.literal("dns"),
    ...Timing,
    query: z.string(),
    queryType: DnsQueryType,
    transport: z.enum(["udp", "tcp"]),
    expectRcode: z.array(DnsRcode),
    expectAnswer: z.string().optional(),
    recurse: z.boolean(),
  }),
  z.object({
    type: z.literal("udp"),
    ...Timing,
    ...Payload,
    expectRegex: z.string().optional(),
    requireReply: z.boolean(),
  }),
  z.object({ type: z.literal("icmp"), ...Timing }),
  z.object({
    type: z.literal("smtp"),
    ...Timing,
    heloName: z.string().optional(),
    starttls: z.boolean(),
    ...Tls,
  }),
  z.object({
    type: z.literal("tls"),
    ...Timing,
    ...Tls,
    expiryDownMs: z.number().optional(),
    expiryWarnMs: z.number().optional(),
  }),
  z.object({ type: z.literal("agent"), ...Timing, send: z.string().optional() }),
]);
export type CheckConfig = z.infer<typeof CheckConfig>;
export type HttpCheckConfig = Extract<CheckConfig, { type: "http" | "https" }>;
export type TcpCheckConfig = Extract<CheckConfig, { type: "tcp" }>;
export type ExecCheckConfig = Extract<CheckConfig, { type: "exec" }>;
export type DnsCheckConfig = Extract<CheckConfig, { type: "dns" }>;
export type UdpCheckConfig = Extract<CheckConfig, { type: "udp" }>;
export type IcmpCheckConfig = Extract<CheckConfig, { type: "icmp" }>;
export type SmtpCheckConfig = Extract<CheckConfig, { type: "smtp" }>;
export type TlsCheckConfig = Extract<CheckConfig, { type: "tls" }>;
export type AgentCheckConfig = Extract<CheckConfig, { type: "agent" }>;
/** The TLS settings of a check that speaks TLS (https, tls, smtp with STARTTLS). */
export type TlsSettings = Pick<TlsCheckConfig, "tlsVerify" | "sni" | "ca" | "cert" | "key" | "timeoutMs">;
