/**
 * One line saying why a transition happened, with its numbers, from an engine event as it came off the wire.
 * Events are loosely typed on the wire (a newer director may add fields or types), so every field is read
 * defensively and an unknown type still gets a readable line.
 */
export function describeEvent(event: Record<string, unknown>): string {
  const type = String(event.type);
  const rs = str(event.rs);
  const tally = describeTally(event.tally);
  const votes = describeVotes(event.votes);
  switch (type) {
    case "rs-down":
      return join(`${rs} down (${str(event.action) || "remove"})`, tally, votes);
    case "rs-up":
      return join(`${rs} up at weight ${num(event.weight)}`, tally, votes);
    case "weight-changed":
      return join(`${rs} weight ${num(event.from)} → ${num(event.to)}`, tally);
    case "removal-limited":
      return join(
        `${rs} removal held back: ${num(event.removedInWindow)} of max ${num(event.max)} removed in ` +
          `${seconds(event.perMs)}, retry at ${clock(event.retryAt)}`,
        tally,
        votes,
      );
    case "fallback-on":
      return `fallback on: ${num(event.upServers)} real servers up (healthy weight ${num(event.healthyWeight)}), serving ${list(event.servers)}`;
    case "fallback-off":
      return `fallback off: ${num(event.upServers)} real servers up again (healthy weight ${num(event.healthyWeight)})`;
    case "weight-quorum-lost":
      return `lost quorum ${num(event.quorum)}-${num(event.hysteresis)}=${num(event.threshold)} > ${num(event.healthyWeight)}${event.initial ? " (at start)" : ""}${Array.isArray(event.fallback) && event.fallback.length > 0 ? `: ${list(event.fallback)} replace the real servers` : ""}`;
    case "weight-quorum-gained":
      return `gained quorum ${num(event.quorum)}+${num(event.hysteresis)}=${num(event.threshold)} <= ${num(event.healthyWeight)}: real servers back`;
    case "quorum-unreachable":
      return `${num(event.realServers)} of ${num(event.total)} real servers reach no quorum: kept as they are (fail-static)`;
    case "quorum-restored":
      return `quorum restored for all ${num(event.total)} real servers`;
    case "admin-applied":
      return join(
        `${rs} ${str(event.action)} (was ${str(event.previous)})${event.author ? ` by ${str(event.author)}` : ""}`,
        event.reason ? `"${str(event.reason)}"` : "",
      );
    case "admin-rejected":
      return `${rs} ${str(event.action)} refused: ${str(event.why)}`;
    case "service-created":
    case "service-removed":
      return `${type.replace("service-", "service ")}: ${str(event.key)}`;
    case "stale":
      return `probe ${str(event.probe)} (${str(event.site)}) silent for ${seconds(event.ageMs)}: its votes on ${num(event.realServers)} real servers abstain`;
    default:
      return describeUnknown(type, event);
  }
}

function describeUnknown(type: string, event: Record<string, unknown>): string {
  const fields = Object.entries(event)
    .filter(([key]) => key !== "type" && key !== "service")
    .map(([key, value]) => `${key}=${typeof value === "object" ? JSON.stringify(value) : String(value)}`)
    .join(" ");
  const line = fields ? `${type}: ${fields}` : type;
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

function describeTally(value: unknown): string {
  if (!value || typeof value !== "object") return "";
  const t = value as Record<string, unknown>;
  const by = str(t.by) || "site";
  return `${num(t.down)}/${num(t.total)} ${by}s down (${num(t.downNeeded)} needed), ${num(t.up)}/${num(t.total)} up (${num(t.upNeeded)} needed)`;
}

/**
 * A probe's flip under way, in the words explain, status and the page all use: `rising 1/2` (towards up),
 * `falling 2/3` (towards down); "" when there is none or it is malformed (events are loosely typed).
 */
export function flipText(pending: unknown): string {
  if (!pending || typeof pending !== "object") return "";
  const p = pending as Record<string, unknown>;
  if (typeof p.count !== "number" || typeof p.needed !== "number") return "";
  const direction = p.state === "up" ? "rising" : p.state === "down" ? "falling" : "";
  return direction ? `${direction} ${p.count}/${p.needed}` : "";
}

/** One vote in words: `down "HTTP 503"`, or `down, rising 1/2, last check "HTTP 200"` during a flip. */
export function voteText(
  vote: { state?: unknown; reason?: unknown; pending?: unknown },
  reasonMax = 80,
): string {
  const reason = str(vote.reason).slice(0, reasonMax);
  const flip = flipText(vote.pending);
  if (flip) return `${str(vote.state)}, ${flip}${reason ? `, last check "${reason}"` : ""}`;
  return `${str(vote.state)}${reason ? ` "${reason}"` : ""}`;
}

function describeVotes(value: unknown): string {
  if (!Array.isArray(value) || value.length === 0) return "";
  const parts = value
    .slice(0, 6)
    .map((v: Record<string, unknown>) => `${str(v.site)}/${str(v.probe)} ${voteText(v, 40)}`);
  if (value.length > 6) parts.push(`+${value.length - 6} more`);
  return `votes: ${parts.join(", ")}`;
}

/** The one-line summary of a transition the status process derived from votes (no director reporting). */
export function describeVoteTransition(
  rs: string,
  to: "up" | "down",
  quorum: { by: string; up: number; down: number; total: number; upNeeded: number; downNeeded: number },
): string {
  const count = to === "down" ? quorum.down : quorum.up;
  const needed = to === "down" ? quorum.downNeeded : quorum.upNeeded;
  return `${rs} voted ${to}: ${count}/${quorum.total} ${quorum.by}s ${to} (${needed} needed); no director reporting`;
}

const join = (...parts: string[]) => parts.filter(Boolean).join("; ");
const str = (value: unknown) => (value === undefined || value === null ? "" : String(value));
const num = (value: unknown) => (typeof value === "number" ? String(value) : "?");
const list = (value: unknown) => (Array.isArray(value) && value.length > 0 ? value.join(", ") : "nothing");
const seconds = (value: unknown) => (typeof value === "number" ? `${Math.round(value / 100) / 10}s` : "?");
const clock = (value: unknown) =>
  typeof value === "number" ? new Date(value).toISOString().slice(11, 19) : "?";
