export { ExitCode } from "./exit.js";
export {
  createLogger,
  detail,
  type LogFormat,
  type Logger,
  type LoggerSettings,
  type LogLevel,
  plainLine,
  type PrettyStreamFactory,
  rateLimitedWarn,
  usePrettyInProcess,
} from "./logger.js";
export {
  authorizes,
  type HttpCredential,
  HttpAuth,
  HttpAuthFileError,
  parseHttpAuth,
  requireAuth,
  warnIfExposed,
} from "./http-auth.js";
export { listenHttp } from "./http-listen.js";
export { handleSignals, type SignalHandlers } from "./signals.js";
export { delay, every } from "./timers.js";
export {
  type CheckResultLabel,
  createDirectorMetrics,
  createMetricsRegistry,
  createProbeMetrics,
  type DirectorMetrics,
  type DirectorRoleLabel,
  type MetricsServer,
  type ProbeMetrics,
  parseHostPort,
  Registry,
  serveMetrics,
} from "./metrics.js";
