export { ForwardingPath, type ForwardingPathOptions } from "./forwarding-path.js";
export { forwardingRunner, type ForwardingRunnerOptions } from "./forwarding-runner.js";
export { type HostFacts, judgeConditions, type PathConditions, readHostFacts } from "./host-conditions.js";
export { createNftRunner, type NftRunner, PinInstaller } from "./pin-installer.js";
export { nftRemoveScript, nftScript, nftTableName, pinKeys, pinTable } from "./pins.js";
