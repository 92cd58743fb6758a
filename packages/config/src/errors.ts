import { LvsqError } from "@lvsq/protocol";

export type ConfigIssue = {
  /** `services.web.realServers[1].weight`; empty for whole-file problems. */
  path: string;
  /** 1-based line in the file, when the YAML parser knows it. */
  line: number | undefined;
  message: string;
};

/** An invalid fleet config. Its message lists every issue as `file:line: path: expectation`. */
export class ConfigError extends LvsqError {
  override name = "ConfigError";
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
    options?: { cause?: unknown },
  ) {
    super("config_invalid", formatIssues(file, issues), options);
  }
}

function formatIssues(file: string, issues: ConfigIssue[]): string {
  const sorted = [...issues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  const lines = sorted.map((issue) => {
    const where = issue.line === undefined ? file : `${file}:${issue.line}`;
    return issue.path === "" ? `  ${where}: ${issue.message}` : `  ${where}: ${issue.path}: ${issue.message}`;
  });
  const noun = issues.length === 1 ? "problem" : "problems";
  return `invalid config ${file} (${issues.length} ${noun}):\n${lines.join("\n")}`;
}

/** `["services", "web", "realServers", 1, "weight"]` → `services.web.realServers[1].weight`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (!/^[A-Za-z0-9_-]+$/.test(String(segment))) out += `[${JSON.stringify(String(segment))}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}
