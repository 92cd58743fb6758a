import { z } from "zod";
import { FleetConfigInput } from "./schema.js";

let cached: string[] | undefined;

/** Every property name that appears anywhere in the config schema. */
export function knownKeys(): string[] {
  if (cached) return cached;
  const names = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (node === null || typeof node !== "object") return;
    const record = node as Record<string, unknown>;
    if (record.properties && typeof record.properties === "object") {
      for (const key of Object.keys(record.properties)) names.add(key);
    }
    Object.values(record).forEach(visit);
  };
  visit(z.toJSONSchema(FleetConfigInput, { io: "input", unrepresentable: "any" }));
  cached = [...names];
  return cached;
}

/** The closest known key within edit distance 2 (typos like `realServer`, `intervall`, `fallbak`). */
export function suggestKey(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
