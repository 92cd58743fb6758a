import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { buildProgram } from "@lvsq/cli";

/**
 * The docs check (`npm run docs:check`, part of `npm test`): every link in a Markdown file points at a file
 * (and heading) of this repository, every repository path a doc names in backticks exists, every `--flag`
 * docs/ gives an lvsq command is in that command's `--help`, and no file points outside the repository
 * (a design file or an issue tracker the reader does not have).
 */
export type Problem = { file: string; line: number; message: string };

/** Folders no check reads: dependencies, build output, test output. */
const SKIPPED = new Set(["node_modules", "dist", "coverage", ".git", ".turbo", "out"]);

export function filesUnder(root: string, dir: string, test: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    if (SKIPPED.has(name)) continue;
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) out.push(...filesUnder(root, path, test));
    else if (test(name)) out.push(path);
  }
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCodeBlocks(markdown)) {
    const match = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line.text);
    if (!match) continue;
    const base = match[1]!
      .toLowerCase()
      .replace(/<[^>]*>/g, "")
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The lines outside fenced code blocks, with their line numbers. */
function withoutCodeBlocks(markdown: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let fenced = false;
  markdown.split("\n").forEach((text, i) => {
    if (/^\s*(```|~~~)/.test(text)) fenced = !fenced;
    else if (!fenced) out.push({ text, line: i + 1 });
  });
  return out;
}

/** Inline code spans outside code blocks, and every line inside a fenced code block, with line numbers. */
export function codeSnippets(markdown: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let fenced = false;
  markdown.split("\n").forEach((text, i) => {
    if (/^\s*(```|~~~)/.test(text)) {
      fenced = !fenced;
      return;
    }
    if (fenced) out.push({ text, line: i + 1 });
    else for (const m of text.matchAll(/`([^`]+)`/g)) out.push({ text: m[1]!, line: i + 1 });
  });
  return out;
}

/** Every relative link `[text](target)` resolves to a file of the repository, and its `#anchor` to a heading. */
export function checkLinks(root: string, file: string, markdown: string): Problem[] {
  const problems: Problem[] = [];
  for (const { text, line } of withoutCodeBlocks(markdown)) {
    const prose = text.replace(/`[^`]*`/g, "");
    for (const m of prose.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      const [path, anchor] = target.split("#", 2) as [string, string | undefined];
      if (path === "") {
        if (anchor && !headingAnchors(markdown).has(anchor.toLowerCase()))
          problems.push({ file, line, message: `link ${target}: no heading #${anchor} on this page` });
        continue;
      }
      const resolved = resolve(join(root, dirname(file)), path);
      if (!resolved.startsWith(root)) {
        problems.push({ file, line, message: `link ${target} leaves the repository` });
        continue;
      }
      if (!existsSync(resolved)) {
        problems.push({ file, line, message: `link ${target}: ${relative(root, resolved)} does not exist` });
        continue;
      }
      if (anchor !== undefined && anchor !== "") {
        if (!resolved.endsWith(".md")) continue;
        if (!headingAnchors(readFileSync(resolved, "utf8")).has(anchor.toLowerCase()))
          problems.push({
            file,
            line,
            message: `link ${target}: ${relative(root, resolved)} has no heading #${anchor}`,
          });
      }
    }
  }
  return problems;
}

/** Top-level folders whose paths docs name in backticks (`packages/status/src/snapshot.ts`). */
const REPO_PATH = /^(?:docs|packages|test|bench|scripts|deploy)\/[\w./@-]*$/;

/** A repository path a doc names in backticks exists (globs and placeholders are not paths). */
export function checkRepoPaths(root: string, file: string, markdown: string): Problem[] {
  return codeSnippets(markdown)
    .filter(({ text }) => REPO_PATH.test(text) && !existsSync(join(root, text)))
    .map(({ text, line }) => ({ file, line, message: `names ${text}, which does not exist` }));
}

/** The `--flags` of `lvsq` and of each command, from the same help text `lvsq <command> --help` prints. */
export function lvsqFlags(): { global: Set<string>; commands: Map<string, Set<string>> } {
  const program = buildProgram({ stdout: () => {}, stderr: () => {} });
  const flagsOf = (help: string) => {
    const options = help.split(/\n(?=\S)/).find((section) => section.startsWith("Options:")) ?? "";
    return new Set([...options.matchAll(/(?:^|[\s,])(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]!));
  };
  const commands = new Map(program.commands.map((c) => [c.name(), flagsOf(c.helpInformation())]));
  return { global: flagsOf(program.helpInformation()), commands };
}

/** Flags of other programs that docs mention on their own (`-i` with no tunnel type means `--tun-type ipip`). */
const OTHER_PROGRAMS: Record<string, string> = { "--tun-type": "ipvsadm", "--tun-nocsum": "ipvsadm" };

/**
 * Every `--flag` docs/ gives lvsq is in `lvsq --help`: after `lvsq <command>` in a code span or a code
 * block line (up to a pipe, `&&`, `;` or a redirection), it must be one of that command's options or a
 * global one; a code span that starts with a flag must be an option of some lvsq command.
 */
export function checkFlags(
  file: string,
  markdown: string,
  flags: { global: Set<string>; commands: Map<string, Set<string>> },
): Problem[] {
  const problems: Problem[] = [];
  const every = new Set([...flags.global, ...[...flags.commands.values()].flatMap((s) => [...s])]);
  for (const { text, line } of codeSnippets(markdown)) {
    for (const m of text.matchAll(/(?:^|[\s(])lvsq((?:\s+[^\s|;&>]+)*)/g)) {
      const words = m[1]!.trim().split(/\s+/).filter(Boolean);
      const command = words[0] !== undefined && !words[0].startsWith("-") ? words[0] : undefined;
      const known = command === undefined ? undefined : flags.commands.get(command);
      if (command !== undefined && !known) {
        if (/^[a-z][a-z-]*$/.test(command))
          problems.push({ file, line, message: `lvsq ${command}: no such command in lvsq --help` });
        continue;
      }
      for (const word of words) {
        const flag = /^\[?(--[a-z][a-z0-9-]*)/.exec(word)?.[1];
        if (!flag || flags.global.has(flag) || known?.has(flag)) continue;
        problems.push({
          file,
          line,
          message: `${flag} is not in lvsq ${command ?? ""} --help`.replace("  ", " "),
        });
      }
    }
    const bare = /^(--[a-z][a-z0-9-]*)/.exec(text)?.[1];
    if (bare && !every.has(bare) && !OTHER_PROGRAMS[bare])
      problems.push({ file, line, message: `${bare} is not an option of any lvsq command (lvsq --help)` });
  }
  return problems;
}

/** Text that points outside the repository: the design file it was built from, and issue numbers. */
const OUTSIDE = [
  {
    pattern: /\bDESIGN(?:\.md)?\s*§\s*\d|\bDESIGN\.md\b|\bSTYLE\.md\b/,
    what: "a design file not in the repository",
  },
  { pattern: /\/work\/(?:shared|notes)\b/, what: "a path outside the repository" },
  { pattern: /\bissue #?\d+\b|\breport to the lead\b/i, what: "an issue tracker the reader does not have" },
];

export function checkOutsideReferences(file: string, text: string): Problem[] {
  const problems: Problem[] = [];
  text.split("\n").forEach((line, i) => {
    for (const { pattern, what } of OUTSIDE)
      if (pattern.test(line))
        problems.push({ file, line: i + 1, message: `points to ${what}: ${line.trim()}` });
  });
  return problems;
}

/** The whole check over the repository at `root`. */
export function checkRepository(root: string): Problem[] {
  const markdown = filesUnder(root, ".", (name) => name.endsWith(".md")).map((f) => f.replace(/^\.\//, ""));
  const docs = markdown.filter((f) => f.startsWith("docs/"));
  const sources = filesUnder(root, ".", (name) => /\.(ts|js|mjs|md|yaml|yml|json|html|css|sh)$/.test(name))
    .map((f) => f.replace(/^\.\//, ""))
    .filter((f) => f !== "package-lock.json" && f !== "test/unit/docs-check.ts");
  const flags = lvsqFlags();
  const read = (f: string) => readFileSync(join(root, f), "utf8");
  return [
    ...markdown.flatMap((f) => [...checkLinks(root, f, read(f)), ...checkRepoPaths(root, f, read(f))]),
    ...docs.flatMap((f) => checkFlags(f, read(f), flags)),
    ...sources.flatMap((f) => checkOutsideReferences(f, read(f))),
  ];
}
