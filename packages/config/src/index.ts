export {
  type CheckConfig,
  type ExecCheckConfig,
  type HttpCheckConfig,
  type TcpCheckConfig,
  resolveCheck,
} from "./check.js";
export { Duration, formatDuration, parseDuration } from "./duration.js";
export { ConfigError, type ConfigIssue, formatPath } from "./errors.js";
export { configJsonSchema } from "./json-schema.js";
export { type LoadOptions, loadConfig, parseConfig } from "./load.js";
export {
  type FleetConfig,
  type RealServerConfig,
  type ServiceConfig,
  STANDALONE_DIRECTOR,
  STANDALONE_PROBE,
  STANDALONE_SITE,
} from "./normalize.js";
export { FleetConfigInput } from "./schema.js";
export { Threshold, thresholdCount } from "./threshold.js";
export { type NatsCredentials, natsCredentials, OPERATOR_USER, VIEWER_USER } from "./credentials.js";
