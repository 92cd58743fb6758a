export { DirectorAgent, type DirectorOptions } from "./agent.js";
export { type ApplyOutcome, ApplyLoop } from "./apply-loop.js";
export { createDryRunDriver } from "./dry-run-driver.js";
export type { DirectorEvent } from "./events.js";
