export { parseIpvsAddress } from "./address.js";
export type { ApplyResult, IpvsDriver } from "./driver.js";
export { IpvsadmError, type IpvsadmErrorDetails } from "./errors.js";
export { createIpvsadmDriver, type IpvsadmDriverOptions, ipvsadmPath } from "./ipvsadm-driver.js";
export {
  applyOpToTable,
  KERNEL_SCHEDULERS,
  type KernelModelOptions,
  opsNotTaken,
  tableAfterOps,
} from "./kernel-model.js";
export {
  type KernelDriverChoice,
  type KernelDriverName,
  type KernelDriverOptions,
  openKernelDriver,
} from "./kernel-driver.js";
export { type NetlinkDriver, type NetlinkDriverOptions, openNetlinkDriver } from "./netlink-driver.js";
export { IpvsNetlinkError, IpvsUnavailableError, type OpFailure } from "./nl-errors.js";
export { createMemoryDriver, type MemoryDriver } from "./memory-driver.js";
export {
  normalizeServer,
  normalizeService,
  normalizeSettings,
  sameServer,
  sameSettings,
} from "./normalize.js";
export { type IpvsOp, type ServiceRef, type ServiceSettings, serviceRef, serviceSettings } from "./ops.js";
export { plan } from "./plan.js";
export { opArgs, renderCommands, renderRestore, renderSave } from "./render.js";
export { parseSave } from "./save-parser.js";
export { mergeThresholds, parseThresholds, type ThresholdMap } from "./thresholds-parser.js";
