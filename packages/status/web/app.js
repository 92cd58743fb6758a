// lvsq status page: renders the FleetSnapshot pushed over server-sent events (docs/status.md).
// Plain browser JavaScript modules, no build step, no external assets. Text from the wire (probe reasons,
// admin reasons) is untrusted: it only ever goes into textContent, never innerHTML.
import { view } from "./dom.js";
import { renderDirectors, renderProbes, renderTimeline } from "./fleet.js";
import { renderDetail, renderServices } from "./services.js";

function render() {
  const { snapshot } = view;
  if (!snapshot) return;
  document.getElementById("cluster").textContent = snapshot.cluster;
  const r = snapshot.summary.realServers;
  document.getElementById("summary").textContent =
    `${r.up} up · ${r.down} down · ${r.draining} draining · ${r.disabled} disabled · ${r.unknown} unknown`;
  renderServices(render);
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
  view.snapshot = JSON.parse(message.data);
  view.receivedAt = Date.now();
  setLink("live", "live");
  render();
});
source.addEventListener("error", () => setLink("reconnecting", "reconnecting…"));
// Ages and freshness move between pushes.
setInterval(() => {
  if (view.snapshot) {
    renderDirectors();
    renderProbes();
  }
}, 1000);
