import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import type { Source } from "./common.js";

/** One keepalived statement: `real_server 192.0.2.1 80 { … }` is keyword, args and a block. */
export type Statement = { keyword: string; args: string[]; block: Statement[] | undefined; at: Source };

type Token = { text: string; quoted: boolean; at: Source } | { text: "\n"; quoted: false; at: Source };

/** Nested includes beyond this are a loop. */
const MAX_INCLUDE_DEPTH = 10;

/**
 * Reads a keepalived.conf and every file it includes (`include FILE`, with shell wildcards, relative to the
 * including file), and parses it into statements. keepalived's syntax: one statement per line, `{` opens a
 * block, `}` closes it, `!` or `#` start a comment, double quotes keep spaces. Throws with file:line on
 * unbalanced braces or an include that matches nothing.
 */
export function readKeepalived(path: string): { statements: Statement[]; files: string[] } {
  const files: string[] = [];
  const tokens = lexFile(resolve(path), files, 0);
  let index = 0;
  const parseBlock = (depth: number, opener: Source | undefined): Statement[] => {
    const out: Statement[] = [];
    let line: Token[] = [];
    const flush = (block: Statement[] | undefined) => {
      if (line.length > 0) {
        const [head, ...rest] = line;
        out.push({ keyword: head!.text, args: rest.map((t) => t.text), block, at: head!.at });
      } else if (block) {
        throw new Error(`${where(tokens[index - 1]!.at)}: a block without a keyword`);
      }
      line = [];
    };
    while (index < tokens.length) {
      const token = tokens[index++]!;
      if (token.text === "\n") flush(undefined);
      else if (token.text === "{" && !token.quoted) {
        const at = token.at;
        flush(parseBlock(depth + 1, at));
      } else if (token.text === "}" && !token.quoted) {
        if (depth === 0) throw new Error(`${where(token.at)}: "}" without a matching "{"`);
        flush(undefined);
        return out;
      } else line.push(token);
    }
    if (depth > 0) throw new Error(`${where(opener!)}: "{" is never closed`);
    flush(undefined);
    return out;
  };
  return { statements: parseBlock(0, undefined), files };
}

function where(at: Source): string {
  return `${at.file}:${at.line}`;
}

function lexFile(path: string, files: string[], depth: number): Token[] {
  if (depth > MAX_INCLUDE_DEPTH) throw new Error(`${path}: includes nested deeper than ${MAX_INCLUDE_DEPTH}`);
  files.push(path);
  const text = readFileSync(path, "utf8");
  const out: Token[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const at = { file: path, line: i + 1 };
    const line = lexLine(raw, at);
    if (line.length >= 2 && line[0]!.text === "include" && !line[0]!.quoted) {
      for (const file of expandInclude(line[1]!.text, dirname(path), at))
        out.push(...lexFile(file, files, depth + 1));
      return;
    }
    out.push(...line, { text: "\n", quoted: false, at });
  });
  return out;
}

function lexLine(raw: string, at: Source): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < raw.length) {
    const char = raw[i]!;
    if (char === "!" || char === "#") break;
    if (/\s/.test(char)) {
      i++;
    } else if (char === "{" || char === "}") {
      out.push({ text: char, quoted: false, at });
      i++;
    } else if (char === '"') {
      const end = raw.indexOf('"', i + 1);
      const stop = end < 0 ? raw.length : end;
      out.push({ text: raw.slice(i + 1, stop), quoted: true, at });
      i = stop + 1;
    } else {
      let j = i;
      while (j < raw.length && !/[\s{}"!#]/.test(raw[j]!)) j++;
      out.push({ text: raw.slice(i, j), quoted: false, at });
      i = j;
    }
  }
  return out;
}

/** Files an include names: a path, or a pattern with `*`, `?` and `[…]` in any component, sorted. */
function expandInclude(pattern: string, base: string, at: Source): string[] {
  const absolute = isAbsolute(pattern) ? pattern : join(base, pattern);
  if (!/[*?[]/.test(absolute)) return [absolute];
  const parts = absolute.split("/").filter(Boolean);
  let paths = ["/"];
  for (const part of parts) {
    if (!/[*?[]/.test(part)) {
      paths = paths.map((p) => join(p, part));
      continue;
    }
    const matcher = globPart(part);
    paths = paths.flatMap((dir) => {
      try {
        return readdirSync(dir)
          .filter((name) => matcher.test(name))
          .sort()
          .map((name) => join(dir, name));
      } catch {
        return [];
      }
    });
  }
  if (paths.length === 0) throw new Error(`${where(at)}: include ${pattern} matches no file`);
  return paths.filter((p) => basename(p) !== "");
}

function globPart(part: string): RegExp {
  let source = "";
  for (const char of part) {
    if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else if (char === "[" || char === "]") source += char;
    else source += char.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/** The first statement of a block with this keyword (any of the spellings given). */
export function find(block: Statement[] | undefined, ...keywords: string[]): Statement | undefined {
  return block?.find((s) => keywords.includes(s.keyword));
}

/** All statements of a block with these keywords. */
export function findAll(block: Statement[] | undefined, ...keywords: string[]): Statement[] {
  return (block ?? []).filter((s) => keywords.includes(s.keyword));
}
