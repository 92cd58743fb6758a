// The timeline of transitions (strip and list), and the directors' and probes' tables.
import { ago, ageOf, clock, freshnessOf, h, view } from "./dom.js";

const STRIP_WINDOW_MS = 10 * 60 * 1000;

function typeClass(type) {
  if (/down|on$|unreachable|limited|rejected/.test(type)) return "type type-down";
  if (/up|off$|restored/.test(type)) return "type type-up";
  return "type";
}

export function renderTimeline() {
  const items = view.snapshot.history.slice().reverse();
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
  const now = view.snapshot.generatedAt + (Date.now() - view.receivedAt);
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

export function renderDirectors() {
  const rows = view.snapshot.directors.map((d) =>
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

export function renderProbes() {
  document.getElementById("probes").replaceChildren(
    h(
      "tr",
      {},
      ["probe", "site", "checks/s", "errors", "heard"].map((t) => h("th", {}, t)),
    ),
    ...view.snapshot.probes.map((p) =>
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
