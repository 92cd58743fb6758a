// Shared by the page's modules: the snapshot being shown and small DOM and time helpers.

/** What the page shows: the last snapshot pushed, when it arrived, and the selected real server. */
export const view = { snapshot: null, receivedAt: 0, selected: null /* "service|rs" */ };

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Age of something the snapshot dated, advanced by the time since the snapshot arrived. */
export function ageOf(ms) {
  if (ms === null || ms === undefined) return null;
  return ms + (Date.now() - view.receivedAt);
}

export function ago(ms) {
  if (ms === null) return "never";
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)}s ago`;
  if (s < 120) return `${Math.round(s)}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

export const clock = (at) => new Date(at).toLocaleTimeString();

export function freshnessOf(item) {
  if (item.lastSeenAt === null) return "missing";
  return ageOf(item.ageMs) <= view.snapshot.staleAfterMs ? "fresh" : "stale";
}

/** A probe's flip under way, in the words `lvsq explain` and `lvsq status` use: `rising 1/2`, `falling 2/3`. */
export function flipText(pending) {
  if (!pending) return "";
  return `${pending.state === "up" ? "rising" : "falling"} ${pending.count}/${pending.needed}`;
}

/** One vote in words: `down "HTTP 503"`, or `down, rising 1/2, last check "HTTP 200"` during a flip. */
export function voteText(v) {
  const flip = flipText(v.pending);
  if (flip) return `${v.state}, ${flip}${v.reason ? `, last check "${v.reason}"` : ""}`;
  return `${v.state}${v.reason ? ` "${v.reason}"` : ""}`;
}
