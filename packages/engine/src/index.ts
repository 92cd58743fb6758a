export {
  explain,
  type RealServerExplanation,
  type ServiceExplanation,
  type SiteExplanation,
  serviceReasons,
} from "./explain.js";
export { type DirectorState, ownedServiceKeys, serviceKey } from "./model.js";
export { initialState, type StepResult, step } from "./step.js";
// The quorum rules themselves, for views that tally votes they received (lvsq status) without re-stating them.
export { createLayout, decideVerdict, type QuorumLayout, siteVerdict } from "./quorum.js";
export type {
  AdminCommand,
  DropReason,
  DropReport,
  EngineEvent,
  EngineEventType,
  EngineInput,
  Rule,
  Tally,
  Verdict,
  VoteCounters,
  VoteView,
} from "./types.js";
export { adminCommandOf } from "./admin.js";
export { desiredEntry, drainingRealServers, verdictsSince, voteCounters } from "./queries.js";
