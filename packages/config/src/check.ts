import { z } from "zod";
import { Duration } from "./duration.js";

export const CheckType = z.enum(["http", "https", "tcp", "exec"]);
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
    expectBody: z.string().refine(isRegExp, { message: "expected a valid regular expression" }),
    tlsVerify: z.boolean(),
    sni: z.string().min(1),
    ca: z.string().min(1),
    send: z.string(),
    expect: z.string(),
    command: z.array(z.string().min(1)).min(1),
    env: z.record(z.string(), z.string()),
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
    tlsVerify: z.boolean(),
    sni: z.string().optional(),
    ca: z.string().optional(),
  }),
  z.object({ type: z.literal("tcp"), ...Timing, send: z.string().optional(), expect: z.string().optional() }),
  z.object({
    type: z.literal("exec"),
    ...Timing,
    command: z.array(z.string()),
    env: z.record(z.string(), z.string()),
  }),
]);
export type CheckConfig = z.infer<typeof CheckConfig>;
export type HttpCheckConfig = Extract<CheckConfig, { type: "http" | "https" }>;
export type TcpCheckConfig = Extract<CheckConfig, { type: "tcp" }>;
export type ExecCheckConfig = Extract<CheckConfig, { type: "exec" }>;

const BUILTIN: CheckParsed = {
  type: "http",
  interval: 2000,
  timeout: 1000,
  rise: 2,
  fall: 3,
  path: "/",
  method: "GET",
  expectStatus: ["200-399"],
  tlsVerify: true,
};

const COMMON = new Set(["type", "interval", "timeout", "rise", "fall", "port"]);
const FIELDS_BY_TYPE: Record<CheckType, Set<string>> = {
  http: new Set([
    "path",
    "method",
    "host",
    "headers",
    "expectStatus",
    "expectBody",
    "tlsVerify",
    "sni",
    "ca",
  ]),
  https: new Set([
    "path",
    "method",
    "host",
    "headers",
    "expectStatus",
    "expectBody",
    "tlsVerify",
    "sni",
    "ca",
  ]),
  tcp: new Set(["send", "expect"]),
  exec: new Set(["command", "env"]),
};

export type CheckProblem = { field: string; message: string };

/**
 * Merges built-in defaults ← `defaults.check` ← the service's `check`. Type-specific fields are inherited
 * only while the type stays the same, so a tcp service under http defaults does not inherit a `path`. A
 * field that does not apply to the resolved type, written on the service itself, is an error.
 */
export function resolveCheck(
  defaults: CheckParsed | undefined,
  own: CheckParsed | undefined,
): { check: CheckConfig } | { problems: CheckProblem[] } {
  const base = { ...BUILTIN, ...defaults };
  const type = own?.type ?? base.type ?? "http";
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) {
    if (COMMON.has(key) || (base.type === type && FIELDS_BY_TYPE[type].has(key))) merged[key] = value;
  }
  if ((type === "http" || type === "https") && base.type !== type) Object.assign(merged, pickHttp(BUILTIN));
  const problems: CheckProblem[] = [];
  for (const [key, value] of Object.entries(own ?? {})) {
    if (!COMMON.has(key) && !FIELDS_BY_TYPE[type].has(key)) {
      problems.push({ field: key, message: `"${key}" does not apply to a ${type} check` });
      continue;
    }
    merged[key] = value;
  }
  merged.type = type;
  const m = merged as CheckParsed;
  const timing = {
    intervalMs: m.interval!,
    timeoutMs: m.timeout!,
    rise: m.rise!,
    fall: m.fall!,
    port: m.port,
  };
  if (timing.timeoutMs >= timing.intervalMs) {
    problems.push({
      field: "timeout",
      message: `timeout (${timing.timeoutMs} ms) must be shorter than interval (${timing.intervalMs} ms)`,
    });
  }
  if (type === "exec" && !m.command)
    problems.push({ field: "command", message: "an exec check needs a command" });
  if (problems.length > 0) return { problems };
  if (type === "tcp") return { check: { type, ...timing, send: m.send, expect: m.expect } };
  if (type === "exec") return { check: { type, ...timing, command: m.command!, env: m.env ?? {} } };
  return {
    check: {
      type,
      ...timing,
      path: m.path ?? "/",
      method: m.method ?? "GET",
      host: m.host,
      headers: m.headers ?? {},
      expectStatus: (m.expectStatus ?? ["200-399"]).map(statusRange),
      expectBody: m.expectBody,
      tlsVerify: m.tlsVerify ?? true,
      sni: m.sni,
      ca: m.ca,
    },
  };
}

function pickHttp(parsed: CheckParsed): CheckParsed {
  return {
    path: parsed.path,
    method: parsed.method,
    expectStatus: parsed.expectStatus,
    tlsVerify: parsed.tlsVerify,
  };
}

function statusRange(item: number | string): [number, number] {
  if (typeof item === "number") return [item, item];
  const [lo, hi] = item.split("-").map(Number);
  return [lo!, hi ?? lo!];
}
