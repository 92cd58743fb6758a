import { type LvsqProcess, startLvsq, waitFor } from "../harness/agents.js";

// Helpers shared by the status / director-metrics end-to-end tests: real `lvsq director --dry-run` processes
// (this host has no IPVS: they plan against an in-memory table and log the ipvsadm commands) and a parser
// for the Prometheus text their --metrics endpoint serves.

/** A real director in dry-run mode; resolves once it logged `director started`. */
export async function startDirector(config: string, id: string, extra: string[] = []): Promise<LvsqProcess> {
  const director = startLvsq(["director", "--config", config, "--id", id, "--dry-run", ...extra]);
  await waitFor(
    `director ${id} started`,
    () => {
      if (director.child.exitCode !== null)
        throw new Error(`director ${id} exited:\n${director.lines.join("\n")}`);
      return director.logs().some((l) => l.msg === "director started");
    },
    10_000,
  );
  return director;
}

/** Every ipvsadm command line the dry-run director logged it would have run, oldest first. */
export function dryRunCommands(director: LvsqProcess): string[] {
  return director
    .logs()
    .filter((l) => l.op === "dry-run")
    .flatMap((l) => l.commands as string[]);
}

/** Waits until `director` logs, after its `from`-th dry-run command, a command matching `pattern`. */
export function waitForCommand(director: LvsqProcess, pattern: RegExp, from = 0, timeoutMs = 10_000) {
  return waitFor(
    `a dry-run command matching ${pattern}`,
    () =>
      dryRunCommands(director)
        .slice(from)
        .find((c) => pattern.test(c)),
    timeoutMs,
  );
}

/** The leader a director last logged a `leader-changed` / `rejoined` for (its own id when it leads). */
export function leaderSeenBy(director: LvsqProcess): string | undefined {
  const last = director.logs().findLast((l) => l.event === "leader-changed" || l.event === "rejoined");
  return last?.leader as string | undefined;
}

export type DecidedBy = { director: string; epoch: number; leader: boolean };
export type ExplainedRs = { rs: string; in: boolean; weight: number | null; rule: string; admin: unknown };

/** `lvsq explain --json` for one real server, asked of one director. */
export async function explainRs(
  config: string,
  director: string,
  service: string,
  rs: string,
): Promise<{ role: string; decidedBy: DecidedBy; rs: ExplainedRs }> {
  const run = startLvsq(["explain", "--config", config, service, rs, "--director", director, "--json"]);
  const exit = await run.exited;
  if (exit.code !== 0) throw new Error(`lvsq explain exited ${exit.code}:\n${run.lines.join("\n")}`);
  const answer = JSON.parse(run.lines.join("\n")) as {
    role: string;
    decidedBy: DecidedBy;
    explanation: { realServers: ExplainedRs[] };
  };
  const found = answer.explanation.realServers.find((r) => r.rs === rs);
  if (!found) throw new Error(`explain has no ${rs}: ${run.lines.join("\n")}`);
  return { role: answer.role, decidedBy: answer.decidedBy, rs: found };
}

/** `-r 127.0.0.1:8080` as a regexp fragment (dots escaped). */
export const rsArg = (rs: string) => `-r ${rs.replace(/\./g, "\\.")}`;

export type Sample = { name: string; labels: Record<string, string>; value: number };

/** Prometheus text format 0.0.4: `name{a="x",b="y"} value` lines; comments skipped. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Scrapes the URL an agent logged for `--metrics` and returns a lookup by name and labels. */
export async function scrape(agent: LvsqProcess) {
  const url = await waitFor(
    "the metrics url in the log",
    () => agent.logs().find((l) => l.msg === "metrics: serving Prometheus text")?.url as string | undefined,
  );
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const samples = parsePrometheus(await res.text());
  return (name: string, labels: Record<string, string> = {}) =>
    samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      ?.value;
}
