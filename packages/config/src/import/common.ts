import { dirname, relative } from "node:path";
import { Document, isMap, isScalar, type YAMLMap } from "yaml";

/** Where something came from in the imported files, for the comments that explain what was dropped. */
export type Source = { file: string; line: number };

/** Something in the imported config that lvsq has no (exact) equivalent for; becomes a YAML comment. */
export type ImportNote = { service: string | undefined; at: Source; text: string };

export type ImportResult = {
  /** The fleet config as plain data, in the config file's spelling (durations as "5s"). */
  config: Record<string, unknown>;
  notes: ImportNote[];
  /** The files read (the main one and every include). */
  files: string[];
};

/** A service id from a VIP or mark: `tcp-192-0-2-10-80`, `fwmark-7`; made unique with a suffix. */
export function serviceId(taken: Set<string>, base: string): string {
  const clean = base.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "") || "service";
  let id = clean;
  for (let n = 2; taken.has(id); n++) id = `${clean}-${n}`;
  taken.add(id);
  return id;
}

/** `192.0.2.1` + 80 → `192.0.2.1:80`; IPv6 in brackets; no port → the bare address (the config's port-less form). */
export function endpoint(ip: string, port: number | undefined): string {
  const host = ip.includes(":") && !ip.startsWith("[") ? `[${ip}]` : ip;
  return port === undefined ? host : `${host}:${port}`;
}

/** Splits a command line the way a shell would for simple cases: spaces, single and double quotes. */
export function splitCommand(text: string): string[] {
  const out: string[] = [];
  let current = "";
  let quote: string | undefined;
  let started = false;
  for (const char of text) {
    if (quote) {
      if (char === quote) quote = undefined;
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      started = true;
    } else if (/\s/.test(char)) {
      if (started || current) out.push(current);
      current = "";
      started = false;
    } else {
      current += char;
      started = true;
    }
  }
  if (started || current) out.push(current);
  return out;
}

/** Seconds (as keepalived and ldirectord write them, maybe fractional) as a config duration. */
export function seconds(value: number): string {
  return Number.isInteger(value) ? `${value}s` : `${Math.round(value * 1000)}ms`;
}

/** lvsq's voteTtl must outlast every check interval: three intervals of the slowest check. */
export function quorumFor(services: Record<string, unknown>): Record<string, string> {
  let longest = 2;
  for (const service of Object.values(services)) {
    const interval = String((service as { check?: { interval?: string } }).check?.interval ?? "2s");
    longest = Math.max(
      longest,
      interval.endsWith("ms") ? Number(interval.slice(0, -2)) / 1000 : Number(interval.slice(0, -1)),
    );
  }
  return { voteTtl: seconds(Math.max(6, longest * 3)) };
}

/**
 * The config as YAML, with a header naming the source and every note as a comment: global ones at the top,
 * a service's just above it.
 */
export function renderImport(result: ImportResult, from: string): string {
  const doc = new Document(result.config);
  // Notes name files relative to the imported one's folder: readable, and the same on every machine.
  const base = dirname(result.files[0] ?? ".");
  const where = (at: Source) => `${relative(base, at.file) || at.file}:${at.line}`;
  const global = result.notes.filter((n) => n.service === undefined);
  const header = [
    ` Imported by \`lvsq import\` from ${from} (${result.files.length} file(s)).`,
    " Review it, then: lvsq validate FILE; lvsq run --config FILE --dry-run",
    ...(global.length > 0 ? ["", " Not carried over, or not exactly:"] : []),
    ...global.map((n) => ` - ${where(n.at)}: ${n.text}`),
  ];
  doc.commentBefore = header.join("\n");
  const services = doc.get("services", true);
  if (isMap(services)) {
    for (const pair of (services as YAMLMap).items) {
      const id = isScalar(pair.key) ? String(pair.key.value) : "";
      const notes = result.notes.filter((n) => n.service === id);
      if (notes.length === 0 || !isScalar(pair.key)) continue;
      pair.key.commentBefore = notes.map((n) => ` ${where(n.at)}: ${n.text}`).join("\n");
    }
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: true });
}
