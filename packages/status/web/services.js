// The services grid (one cell per real server, coloured by state) and the detail panel of the selected one.
import { ago, ageOf, clock, flipText, h, view, voteText } from "./dom.js";

function voteLines(rs) {
  const lines = [`${rs.address}: ${rs.state} (${rs.source})`];
  for (const site of rs.sites) {
    const votes = site.votes.map((v) => `${v.probe} ${voteText(v)}`);
    lines.push(`${site.site} → ${site.verdict}: ${votes.join(", ") || "no votes"}`);
  }
  const q = rs.quorum;
  lines.push(`quorum by ${q.by}: ${q.down} down (${q.downNeeded} needed), ${q.up} up (${q.upNeeded} needed)`);
  return lines.join("\n");
}

/** `onSelect` runs after a click changed the selection (the page redraws). */
export function renderServices(onSelect) {
  const root = document.getElementById("services");
  root.replaceChildren(
    ...view.snapshot.services.map((service) => {
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
                class: `rs state-${rs.state}${view.selected === key ? " selected" : ""}`,
                "data-rs": rs.address,
                "data-state": rs.state,
                title: voteLines(rs),
                onclick: () => {
                  view.selected = view.selected === key ? null : key;
                  onSelect();
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

export function renderDetail() {
  const panel = document.getElementById("detail");
  const [serviceId, address] = view.selected ? view.selected.split("|") : [];
  const service = view.snapshot.services.find((s) => s.id === serviceId);
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
        h("th", {}, "last check"),
      ),
      rs.sites.flatMap((site) =>
        (site.votes.length ? site.votes : [null]).map((v, i) =>
          h(
            "tr",
            { "data-site": site.site },
            h("td", {}, i === 0 ? site.site : ""),
            h("td", {}, i === 0 ? site.verdict : ""),
            h("td", {}, v ? v.probe : "(no vote)"),
            h(
              "td",
              { class: v ? `type-${v.state}` : "", "data-pending": v?.pending ? flipText(v.pending) : null },
              v ? v.state : "",
              v?.pending ? h("span", { class: "flip" }, `, ${flipText(v.pending)}`) : null,
            ),
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
