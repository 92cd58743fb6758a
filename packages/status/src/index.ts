export { describeEvent, flipText, voteText } from "./describe.js";
export { FleetModel, type FleetModelOptions } from "./model.js";
export { ago, renderTable, type RenderOptions } from "./render-table.js";
export type * from "./snapshot.js";
export { watchFleet, type FleetWatch, type WatchFleetOptions } from "./watch-fleet.js";
export { serveStatusPage, type StatusPageServer } from "./web-server.js";
