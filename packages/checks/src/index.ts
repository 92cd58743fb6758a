export { parseAgentReply } from "./agent-check.js";
export { runExecCheck } from "./exec-check.js";
export { BODY_LIMIT_BYTES } from "./http-check.js";
export { type CheckResult, makeResult, type Verdict, MAX_DETAIL_BYTES } from "./result.js";
export {
  type CheckRunner,
  type CheckRunnerOptions,
  createCheckRunner,
  type RunCheckOptions,
} from "./runner.js";
export { runTcpCheck } from "./tcp-check.js";
export type { CheckTarget } from "./target.js";
