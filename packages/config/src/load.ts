import { readFile } from "node:fs/promises";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type { z } from "zod";
import { type ConfigIssue, ConfigError, formatPath } from "./errors.js";
import type { FleetConfig } from "./fleet-config.js";
import { normalizeConfig } from "./normalize.js";
import { FleetConfigInput, IpvsDriverName } from "./schema.js";
import { knownKeys, suggestKey } from "./suggest.js";

export type LoadOptions = {
  /** Environment for overrides (LVSQ_NATS_URL, LVSQ_IPVSADM, LVSQ_IPVS_DRIVER); defaults to process.env. */
  env?: Record<string, string | undefined>;
};

/** Reads, parses and validates a fleet config. Throws ConfigError; never returns a half-valid config. */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<FleetConfig> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory, expected a YAML file"
          : String(code ?? cause);
    throw new ConfigError(path, [{ path: "", line: undefined, message: `cannot read the config: ${why}` }], {
      cause,
    });
  }
  return parseConfig(bytes, path, options);
}

/** Validates config text (or bytes) that came from `file`. */
export function parseConfig(
  input: string | Uint8Array,
  file: string,
  options: LoadOptions = {},
): FleetConfig {
  const text = decodeText(input, file);
  if (text.trim() === "") {
    throw new ConfigError(file, [
      {
        path: "",
        line: undefined,
        message: "the file is empty; expected a fleet config (see docs/configuration.md)",
      },
    ]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: "",
        line: lines.linePos(e.pos[0]).line,
        message: `YAML syntax: ${firstLine(e.message)}`,
      })),
    );
  }
  const content = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (content === null || content === undefined) {
    throw new ConfigError(file, [
      { path: "", line: undefined, message: "the file is empty (only comments); expected a fleet config" },
    ]);
  }
  const env = options.env ?? process.env;
  const driver = env.LVSQ_IPVS_DRIVER;
  if (driver && !IpvsDriverName.safeParse(driver).success) {
    throw new ConfigError(file, [
      {
        path: "director.driver",
        line: undefined,
        message: `environment LVSQ_IPVS_DRIVER is "${driver}", expected netlink or ipvsadm`,
      },
    ]);
  }
  const data = applyEnv(content, env);
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError(file, [
      { path: "", line: 1, message: "expected a mapping at the top (cluster:, services:, ...)" },
    ]);
  }
  const parsed = FleetConfigInput.safeParse(data);
  if (!parsed.success)
    throw new ConfigError(
      file,
      parsed.error.issues.flatMap((i) => toIssues(i, doc, lines)),
    );
  const result = normalizeConfig(parsed.data);
  if ("problems" in result) {
    throw new ConfigError(
      file,
      result.problems.map((p) => ({
        path: formatPath(p.path),
        line: lineOf(doc, lines, p.path),
        message: p.message,
      })),
    );
  }
  return deepFreeze(result.config);
}

function decodeText(input: string | Uint8Array, file: string): string {
  if (typeof input === "string") return input;
  if (input.includes(0)) {
    throw new ConfigError(file, [
      { path: "", line: undefined, message: "this is a binary file, expected YAML text" },
    ]);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(input);
  } catch {
    throw new ConfigError(file, [
      { path: "", line: undefined, message: "the file is not valid UTF-8 text, expected YAML" },
    ]);
  }
}

function applyEnv(data: unknown, env: Record<string, string | undefined>): unknown {
  if (data === null || typeof data !== "object" || Array.isArray(data)) return data;
  const out: Record<string, unknown> = { ...(data as Record<string, unknown>) };
  if (env.LVSQ_NATS_URL) {
    const nats = (out.nats ?? {}) as Record<string, unknown>;
    out.nats = {
      ...nats,
      servers: env.LVSQ_NATS_URL.split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    };
  }
  if (env.LVSQ_IPVSADM) {
    out.director = { ...((out.director ?? {}) as Record<string, unknown>), ipvsadm: env.LVSQ_IPVSADM };
  }
  if (env.LVSQ_IPVS_DRIVER) {
    out.director = { ...((out.director ?? {}) as Record<string, unknown>), driver: env.LVSQ_IPVS_DRIVER };
  }
  return out;
}

function toIssues(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter): ConfigIssue[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => {
      const path = [...issue.path, key];
      const hint = suggestKey(key, knownKeys());
      return {
        path: formatPath(path),
        line: lineOf(doc, lines, path, true),
        message: `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ""}`,
      };
    });
  }
  if (issue.code === "invalid_union" && issue.errors.length > 0 && issue.message === "Invalid input") {
    // zod reports each branch; the first branch's first issue is the most useful single line.
    const first = issue.errors[0]?.[0];
    if (first)
      return toIssues({ ...first, path: [...issue.path, ...first.path] } as z.core.$ZodIssue, doc, lines);
  }
  return [
    { path: formatPath(issue.path), line: lineOf(doc, lines, issue.path), message: describe(issue, doc) },
  ];
}

function describe(issue: z.core.$ZodIssue, doc: Document): string {
  if (issue.code === "invalid_key") {
    return `invalid key: ${issue.issues[0]?.message ?? issue.message}`;
  }
  if (issue.code === "invalid_type") {
    const value = doc.getIn(issue.path as (string | number)[]);
    if (value === undefined) return `missing: expected ${issue.expected}`;
    return `expected ${issue.expected}, got ${JSON.stringify(value)}`;
  }
  return issue.message;
}

function lineOf(
  doc: Document,
  lines: LineCounter,
  path: readonly PropertyKey[],
  atKey = false,
): number | undefined {
  let node: unknown = doc.contents;
  let keyNode: Node | undefined;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment),
      );
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      keyNode = undefined;
      node = node.items[segment];
    } else {
      break;
    }
  }
  const target = (atKey && keyNode) || (node as Node | null);
  const offset = target?.range?.[0];
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
