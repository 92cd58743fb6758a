import type {
  DirectorView,
  FleetSnapshot,
  ProbeView,
  RealServerView,
  ServiceView,
  SiteVotesView,
} from "./snapshot.js";

export type RenderOptions = {
  /** ANSI colours for states and freshness (default false: plain text for pipes and logs). */
  color?: boolean;
  /** How many of the newest transitions to list (default 8). */
  historyLines?: number;
};

const ANSI = { red: "31", green: "32", yellow: "33", grey: "90", bold: "1" } as const;

/** The fleet as a terminal table: directors, probes, each service's real servers, the newest transitions. */
export function renderTable(snapshot: FleetSnapshot, options: RenderOptions = {}): string {
  const paint = (text: string, colour: keyof typeof ANSI | undefined) =>
    options.color && colour ? `\x1b[${ANSI[colour]}m${text}\x1b[0m` : text;
  const now = snapshot.generatedAt;
  const s = snapshot.summary;
  const out: string[] = [];
  out.push(
    paint(`lvsq status · cluster ${snapshot.cluster} · ${new Date(now).toISOString()}`, "bold"),
    `real servers: ${s.realServers.up} up, ${s.realServers.down} down, ${s.realServers.draining} draining, ` +
      `${s.realServers.disabled} disabled, ${s.realServers.unknown} unknown` +
      ` · directors ${s.directors.fresh}/${s.directors.total} fresh · probes ${s.probes.fresh}/${s.probes.total} fresh`,
    "",
  );

  out.push(paint("DIRECTORS", "bold"));
  if (snapshot.directors.length === 0) out.push("  (none configured or reporting)");
  else
    out.push(
      ...columns(
        ["ID", "PAIR", "ROLE", "EPOCH", "DIGEST", "LAST APPLY", "SEEN", "NOTE"],
        snapshot.directors.map((d) => [
          d.id,
          d.pair ?? "-",
          d.role ?? "-",
          d.epoch === null ? "-" : String(d.epoch),
          d.tableDigest ?? "-",
          d.lastApplyAt === null ? "-" : `${ago(now - d.lastApplyAt)} ago (${d.lastApplyMs ?? "?"} ms)`,
          seen(d),
          directorNote(d),
        ]),
        (_row, i) => freshColour(snapshot.directors[i]!, snapshot.directors[i]!.digestMismatch),
        paint,
      ),
    );
  out.push("", paint("PROBES", "bold"));
  if (snapshot.probes.length === 0) out.push("  (none configured or reporting)");
  else
    out.push(
      ...columns(
        ["ID", "SITE", "CHECKS/S", "CHECKS", "ERRORS", "SEEN", "NOTE"],
        snapshot.probes.map((p) => [
          p.id,
          p.site,
          p.checksPerSecond === null ? "-" : String(p.checksPerSecond),
          p.checksTotal === null ? "-" : String(p.checksTotal),
          p.errorsTotal === null ? "-" : String(p.errorsTotal),
          seen(p),
          probeNote(p),
        ]),
        (_row, i) => freshColour(snapshot.probes[i]!, false),
        paint,
      ),
    );

  for (const service of snapshot.services) {
    out.push("", paint(serviceHeading(service), "bold"));
    out.push(
      ...columns(
        ["REAL SERVER", "STATE", "WEIGHT", "VOTES BY SITE", "QUORUM", "LAST TRANSITION"],
        service.realServers.map((rs) => [
          rs.address,
          rs.state + (rs.source === "votes" ? "*" : ""),
          rs.weight === null ? "-" : String(rs.weight),
          rs.sites.map(siteCell).join(" ") || "-",
          `${rs.quorum.down}↓ ${rs.quorum.up}↑ /${rs.quorum.total}`,
          lastTransition(rs, now),
        ]),
        (_row, i) => stateColour(service.realServers[i]!),
        paint,
      ),
    );
  }
  const lines = options.historyLines ?? 8;
  const recent = snapshot.history.slice(-lines).reverse();
  out.push("", paint(`TRANSITIONS (newest first, ${recent.length} of ${snapshot.history.length})`, "bold"));
  if (recent.length === 0) out.push("  (none seen since status started)");
  for (const t of recent) {
    const who = t.director ?? "votes";
    out.push(`  ${clock(t.at)}  ${t.service}  ${t.type}  [${who}]  ${t.summary}`);
  }
  out.push(
    "",
    paint(
      "state* = from the probes' votes (no director decision seen yet) · votes: ✓ up ✗ down ? abstain ~ expired" +
        " · ↑/↓ after a vote: its probe's last checks say the opposite, the flip is under way (lvsq explain)",
      "grey",
    ),
  );
  return `${out.join("\n")}\n`;
}

type Paint = (text: string, colour: keyof typeof ANSI | undefined) => string;

/** Left-aligned columns, two spaces apart; the colour applies to a whole row. */
function columns(
  header: string[],
  rows: string[][],
  colourOf: (row: string[], index: number) => keyof typeof ANSI | undefined,
  paint: Paint,
): string[] {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    `  ${cells.map((c, i) => c + " ".repeat(widths[i]! - width(c))).join("  ")}`.trimEnd();
  return [line(header), ...rows.map((row, i) => paint(line(row), colourOf(row, i)))];
}

/** Display width: every character counts one (the symbols used here are single-width). */
const width = (text: string) => [...text].length;

function serviceHeading(service: ServiceView): string {
  const c = service.counts;
  const parts = [`${c.up} up`, `${c.down} down`];
  if (c.draining) parts.push(`${c.draining} draining`);
  if (c.disabled) parts.push(`${c.disabled} disabled`);
  if (c.unknown) parts.push(`${c.unknown} unknown`);
  const fallback =
    service.fallbackActive === null ? "" : ` · fallback ${service.fallbackActive ? "ON" : "off"}`;
  return `SERVICE ${service.id} · ${service.address} · ${service.scheduler} · ${parts.join(", ")}${fallback}`;
}

const VOTE_MARK = { up: "✓", down: "✗", abstain: "?", expired: "~" } as const;

/** After a vote's mark: its probe's last checks say the opposite and the flip is under way. */
const FLIP_MARK = { up: "↑", down: "↓" } as const;

function siteCell(site: SiteVotesView): string {
  const marks =
    site.votes.map((v) => VOTE_MARK[v.state] + (v.pending ? FLIP_MARK[v.pending.state] : "")).join("") || "·";
  return `${site.site}:${marks}`;
}

function lastTransition(rs: RealServerView, now: number): string {
  const admin = rs.admin
    ? `${rs.admin.action} by ${rs.admin.author}${rs.admin.reason ? ` "${rs.admin.reason}"` : ""}; `
    : "";
  const t = rs.lastTransition;
  const text = admin + (t ? `${ago(now - t.at)} ago ${t.type}: ${t.summary}` : "-");
  // The full line is in TRANSITIONS below; keep the row readable on a terminal.
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

function directorNote(d: DirectorView): string {
  const notes: string[] = [];
  if (d.freshness !== "fresh") notes.push(d.freshness.toUpperCase());
  if (d.digestMismatch) notes.push("TABLE DIFFERS FROM PAIR");
  if (!d.configured) notes.push("not in config");
  if (d.counts && d.counts.applyErrors > 0) notes.push(`${d.counts.applyErrors} apply errors`);
  return notes.join(", ");
}

function probeNote(p: ProbeView): string {
  const notes: string[] = [];
  if (p.freshness !== "fresh") notes.push(p.freshness.toUpperCase());
  if (p.connected === false) notes.push("was disconnected");
  if (!p.configured) notes.push("not in config");
  return notes.join(", ");
}

function seen(x: { ageMs: number | null }): string {
  return x.ageMs === null ? "never" : `${ago(x.ageMs)} ago`;
}

function freshColour(x: { freshness: string }, alarm: boolean): keyof typeof ANSI | undefined {
  if (x.freshness === "missing" || alarm) return "red";
  return x.freshness === "stale" ? "yellow" : undefined;
}

function stateColour(rs: RealServerView): keyof typeof ANSI | undefined {
  return ({ up: "green", down: "red", draining: "yellow", disabled: "grey", unknown: "grey" } as const)[
    rs.state
  ];
}

/** `0.4s`, `12s`, `3m`, `2h`, `4d`. */
export function ago(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 120) return `${Math.round(s)}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

const clock = (at: number) => new Date(at).toISOString().slice(11, 23);
