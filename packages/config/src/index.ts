export {
  type AgentCheckConfig,
  type CheckConfig,
  type CheckType,
  type DnsCheckConfig,
  type ExecCheckConfig,
  type HttpCheckConfig,
  type IcmpCheckConfig,
  type SmtpCheckConfig,
  type TcpCheckConfig,
  type TlsCheckConfig,
  type TlsSettings,
  type UdpCheckConfig,
  resolveCheck,
} from "./check.js";
export { Duration, formatDuration, parseDuration } from "./duration.js";
export { ConfigError, type ConfigIssue, formatPath } from "./errors.js";
export { configJsonSchema } from "./json-schema.js";
export { type LoadOptions, loadConfig, parseConfig } from "./load.js";
export {
  type FleetConfig,
  type ForwardingSettings,
  type RealServerConfig,
  type ServiceConfig,
  STANDALONE_DIRECTOR,
  STANDALONE_PROBE,
  STANDALONE_SITE,
} from "./fleet-config.js";
export {
  type ForwardingPin,
  type ForwardingPlan,
  planForwardingPins,
  TIME_WAIT_MS,
  type UnpinnedServer,
} from "./forwarding-pins.js";
export { FleetConfigInput } from "./schema.js";
export { Threshold, thresholdCount } from "./threshold.js";
export { type ImportNote, type ImportResult, renderImport } from "./import/common.js";
export { importKeepalived } from "./import/keepalived.js";
export { importLdirectord } from "./import/ldirectord.js";
export { type NatsCredentials, natsCredentials, OPERATOR_USER, VIEWER_USER } from "./credentials.js";
