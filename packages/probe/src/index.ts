export { ProbeAgent, type ProbeOptions, type ProbeStats } from "./agent.js";
export { ConcurrencyLimiter } from "./limiter.js";
export type { CheckRunner, ProbeBus } from "./ports.js";
export { applyResult, initialRiseFall, type RiseFallState, voteOf } from "./rise-fall.js";
