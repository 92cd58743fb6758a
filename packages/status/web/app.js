// lvsq status page: renders the FleetSnapshot pushed over server-sent events (docs/status.md).
// Plain browser JavaScript, no build step, no external assets. Text from the wire (probe reasons, admin
// reasons) is untrusted: it only ever goes into textContent, never innerHTML.

const STRIP_WINDOW_MS = 10 * 60 * 1000;
let snapshot = null;
let receivedAt = 0;
let selected = null; // "service|rs"

function h(tag, attrs, ...children) {
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
function ageOf(ms) {
  if (ms === null || ms === undefined) return null;
  return ms + (Date.now() - receivedAt);
}

function ago(ms) {
  if (ms === null) return "never";
  const s = Math.max(0, ms) / 1000;
  if (s < 10) return `${s.toFixed(1)}s ago`;
  if (s < 120) return `${Math.round(s)}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

const clock = (at) => new Date(at).toLocaleTimeString();

function freshnessOf(item) {
  if (item.lastSeenAt === null) return "missing";
  return ageOf(item.ageMs) <= snapshot.staleAfterMs ? "fresh" : "stale";
}

function voteLines(rs) {
  const lines = [`${rs.address}: ${rs.state} (${rs.source})`];
  for (const site of rs.sites) {
    const votes = site.votes.map((v) => `${v.probe} ${v.state}${v.reason ? ` "${v.reason}"` : ""}`);
    lines.push(`${site.site} → ${site.verdict}: ${votes.join(", ") || "no votes"}`);
  }
  const q = rs.quorum;
  lines.push(`quorum by ${q.by}: ${q.down} down (${q.downNeeded} needed), ${q.up} up (${q.upNeeded} needed)`);
  return lines.join("\n");
}

function renderServices() {
  const root = document.getElementById("services");
  root.replaceChildren(
    ...snapshot.services.map((service) => {
      const c = service.counts;
      const fallback =
        service.fallbackActive === null ? "" : ` · fallback ${service.fallbackActive ? "ON" : "off"}`;
      return h(
        "div",
        { class: "service", "data-service": service.id },
        h(
          "h3",
          {},
          `${service.id} `,
          h(
            "span",
            { class: "meta" },
            `${service.address} · ${service.scheduler} · ${c.up} up, ${c.down} down` +
              (c.draining ? `, ${c.draining} draining` : "") +
              (c.disabled ? `, ${c.disabled} disabled` : "") +
              (c.unknown ? `, ${c.unknown} unknown` : "") +
              fallback,
          ),
        ),
        h(
          "div",
          { class: "grid" },
          service.realServers.map((rs) => {
            const key = `${service.id}|${rs.address}`;
            const sites = rs.sites.map((s) => `${s.site}:${s.verdict}`).join(" ");
            return h(
              "button",
              {
                type: "button",
                class: `rs state-${rs.state}${selected === key ? " selected" : ""}`,
                "data-rs": rs.address,
                "data-state": rs.state,
                title: voteLines(rs),
                onclick: () => {
                  selected = selected === key ? null : key;
                  render();
                },
              },
              h("span", { class: "addr" }, rs.address),
              h(
                "span",
                { class: "sub" },
                `${rs.state}${rs.weight === null ? "" : ` · w${rs.weight}`}${rs.admin ? ` · ${rs.admin.action}` : ""}`,
              ),
              h("span", { class: "sub" }, sites || "no votes"),
            );
          }),
        ),
      );
    }),
  );
}

function renderDetail() {
  const panel = document.getElementById("detail");
  const [serviceId, address] = selected ? selected.split("|") : [];
  const service = snapshot.services.find((s) => s.id === serviceId);
  const rs = service?.realServers.find((r) => r.address === address);
  if (!rs) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const q = rs.quorum;
  // Optional parts are null; replaceChildren would print them as the text "null".
  const parts = [
    h("h3", {}, `${service.id} · ${rs.address} · ${rs.state}`),
    h(
      "p",
      {},
      `weight ${rs.weight ?? "-"} (configured ${rs.configuredWeight}); state from ${rs.source}` +
        (rs.director
          ? `, last decision "${rs.director.rule}" by ${rs.director.by ?? "?"} at ${clock(rs.director.at)}`
          : ""),
    ),
    h(
      "p",
      {},
      `quorum by ${q.by}: ${q.down}/${q.total} down (${q.downNeeded} needed), ${q.up}/${q.total} up (${q.upNeeded} needed) → ${q.verdict}`,
    ),
    rs.admin
      ? h(
          "p",
          {},
          `admin ${rs.admin.action} by ${rs.admin.author} at ${clock(rs.admin.at)}: ${rs.admin.reason}`,
        )
      : null,
    h(
      "table",
      { class: "votes" },
      h(
        "tr",
        {},
        h("th", {}, "site"),
        h("th", {}, "verdict"),
        h("th", {}, "probe"),
        h("th", {}, "vote"),
        h("th", {}, "age"),
        h("th", {}, "latency"),
        h("th", {}, "reason"),
      ),
      rs.sites.flatMap((site) =>
        (site.votes.length ? site.votes : [null]).map((v, i) =>
          h(
            "tr",
            { "data-site": site.site },
            h("td", {}, i === 0 ? site.site : ""),
            h("td", {}, i === 0 ? site.verdict : ""),
            h("td", {}, v ? v.probe : "(no vote)"),
            h("td", { class: v ? `type-${v.state}` : "" }, v ? v.state : ""),
            h("td", {}, v ? ago(ageOf(v.ageMs)) : ""),
            h("td", {}, v ? `${v.latencyMs} ms` : ""),
            h("td", {}, v ? v.reason : ""),
          ),
        ),
      ),
    ),
    rs.lastTransition
      ? h("p", {}, `last transition ${clock(rs.lastTransition.at)}: ${rs.lastTransition.summary}`)
      : null,
  ];
  panel.replaceChildren(...parts.filter(Boolean));
}

function typeClass(type) {
  if (/down|on$|unreachable|limited|rejected/.test(type)) return "type type-down";
  if (/up|off$|restored/.test(type)) return "type type-up";
  return "type";
}

function renderTimeline() {
  const items = snapshot.history.slice().reverse();
  document
    .getElementById("timeline")
    .replaceChildren(
      ...(items.length
        ? items.map((t) =>
            h(
              "li",
              { "data-type": t.type },
              h("time", { datetime: new Date(t.at).toISOString() }, clock(t.at)),
              h("span", { class: typeClass(t.type) }, t.type),
              `${t.service} `,
              h("span", { class: "meta" }, `[${t.director ?? "votes"}] `),
              t.summary,
            ),
          )
        : [h("li", {}, "no transitions seen since status started")]),
    );
  const now = snapshot.generatedAt + (Date.now() - receivedAt);
  const strip = document.getElementById("strip");
  strip.replaceChildren(
    ...items
      .filter((t) => now - t.at < STRIP_WINDOW_MS)
      .map((t) => {
        const left = 100 - ((now - t.at) / STRIP_WINDOW_MS) * 100;
        const colour = typeClass(t.type).includes("down") ? "var(--down)" : "var(--up)";
        return h("span", {
          style: `left: calc(${left.toFixed(2)}% - 4px); background: ${colour}`,
          title: `${clock(t.at)} ${t.service} ${t.summary}`,
        });
      }),
  );
}

function freshnessBadge(item, alarm) {
  const f = freshnessOf(item);
  return h(
    "span",
    { class: `badge ${alarm ? "alarm" : f}`, "data-freshness": f },
    `${f} · ${ago(ageOf(item.ageMs))}`,
  );
}

function renderDirectors() {
  const rows = snapshot.directors.map((d) =>
    h(
      "tr",
      { "data-director": d.id },
      h("td", {}, d.id),
      h("td", {}, d.pair ?? "-"),
      h("td", {}, d.role ?? "-"),
      h("td", {}, d.epoch ?? "-"),
      h(
        "td",
        { title: d.digestMismatch ? "table differs from its pair's" : "" },
        d.tableDigest ?? "-",
        d.digestMismatch ? " ≠ pair" : "",
      ),
      h("td", {}, d.lastApplyAt === null ? "-" : `${clock(d.lastApplyAt)} (${d.lastApplyMs ?? "?"} ms)`),
      h("td", {}, freshnessBadge(d, d.digestMismatch)),
    ),
  );
  document.getElementById("directors").replaceChildren(
    h(
      "tr",
      {},
      ["director", "pair", "role", "epoch", "digest", "last apply", "heard"].map((t) => h("th", {}, t)),
    ),
    ...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 7 }, "no director configured or reporting"))]),
  );
}

function renderProbes() {
  document.getElementById("probes").replaceChildren(
    h(
      "tr",
      {},
      ["probe", "site", "checks/s", "errors", "heard"].map((t) => h("th", {}, t)),
    ),
    ...snapshot.probes.map((p) =>
      h(
        "tr",
        { "data-probe": p.id },
        h("td", {}, p.id),
        h("td", {}, p.site),
        h("td", {}, p.checksPerSecond ?? "-"),
        h("td", {}, p.errorsTotal ?? "-"),
        h("td", {}, freshnessBadge(p, false)),
      ),
    ),
  );
}

function render() {
  if (!snapshot) return;
  document.getElementById("cluster").textContent = snapshot.cluster;
  const r = snapshot.summary.realServers;
  document.getElementById("summary").textContent =
    `${r.up} up · ${r.down} down · ${r.draining} draining · ${r.disabled} disabled · ${r.unknown} unknown`;
  renderServices();
  renderDetail();
  renderTimeline();
  renderDirectors();
  renderProbes();
}

function setLink(state, text) {
  const link = document.getElementById("link");
  link.dataset.link = state;
  link.className = `badge ${state === "live" ? "fresh" : "stale"}`;
  link.textContent = text;
}

const source = new EventSource("events");
source.addEventListener("snapshot", (message) => {
  snapshot = JSON.parse(message.data);
  receivedAt = Date.now();
  setLink("live", "live");
  render();
});
source.addEventListener("error", () => setLink("reconnecting", "reconnecting…"));
// Ages and freshness move between pushes.
setInterval(() => {
  if (snapshot) {
    renderDirectors();
    renderProbes();
  }
}, 1000);
