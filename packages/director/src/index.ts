export { DirectorAgent, type DirectorOptions } from "./agent.js";
export { type ApplyOutcome, ApplyLoop } from "./apply-loop.js";
export { createDryRunDriver } from "./dry-run-driver.js";
export type { DirectorEvent } from "./events.js";
export { PairCoordinator, type PairRole } from "./pair-coordinator.js";
export type { PairEvent } from "./pair-events.js";
export { AdminFile, adminFilePath } from "./admin-file.js";
export { Notifier, type NotifyStats } from "./notify.js";
