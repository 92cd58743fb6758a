import type { ServiceExplanation } from "@lvsq/engine";
import { voteText } from "@lvsq/status";

const ago = (ms: number | null) =>
  ms === null ? "never" : ms < 1000 ? `${Math.round(ms)} ms ago` : `${(ms / 1000).toFixed(1)} s ago`;

/** The text `lvsq explain` prints: per real server in/out, weight, the rule, the tally, votes by site. */
export function renderExplanation(answer: {
  director: string;
  role: string;
  explanation: ServiceExplanation;
}): string {
  const e = answer.explanation;
  const lines: string[] = [];
  lines.push(
    `${e.service}  ${e.key}   decided by director ${answer.director} (${answer.role}), quorum by ${e.by}, voteTtl ${e.voteTtlMs} ms`,
  );
  if (e.startupGrace.active)
    lines.push(
      `  startup grace: nothing is removed until ${new Date(e.startupGrace.endsAt ?? 0).toISOString()}`,
    );
  for (const rs of e.realServers) {
    const place = rs.in ? `IN   weight ${rs.weight}` : "OUT          ";
    const t = rs.tally;
    lines.push(
      `  ${rs.rs.padEnd(22)} ${place.padEnd(16)} rule ${rs.rule.padEnd(15)} votes: ${t.up} up / ${t.down} down of ${t.total} ${t.by}s (up needs ${t.upNeeded}, down needs ${t.downNeeded})`,
    );
    if (rs.admin)
      lines.push(
        `      admin: ${rs.admin.action}${rs.admin.author ? ` by ${rs.admin.author}` : ""}${rs.admin.reason ? ` — ${rs.admin.reason}` : ""}`,
      );
    for (const site of rs.sites) {
      const votes = site.votes.map((v) => `${v.probe}=${voteText(v)} (${ago(v.ageMs)})`).join("; ");
      lines.push(`      site ${site.site.padEnd(8)} ${site.verdict.padEnd(5)} ${votes}`);
    }
  }
  const fb = e.fallback;
  if (fb.servers.length > 0) lines.push(`  fallback ${fb.active ? "ON" : "off"}: ${fb.servers.join(", ")}`);
  if (e.removalLimit)
    lines.push(
      `  removal limit: ${e.removalLimit.removedInWindow}/${e.removalLimit.max} per ${e.removalLimit.perMs} ms`,
    );
  return `${lines.join("\n")}\n`;
}
