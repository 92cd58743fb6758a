export { busUnavailable, isKvConflict, KvConflictError } from "./errors.js";
export { createLease, type Lease, type LeaseAcquireResult, type LeaseInfo, LeaseRecord } from "./lease.js";
export {
  createMemoryBus,
  createMemoryNetwork,
  type Delivery,
  type FaultDecision,
  type FaultHook,
  type KvFault,
  type KvFaultHook,
  type KvOp,
  type MemoryNetwork,
  type MemoryNetworkOptions,
} from "./memory-network.js";
export { connectNatsBus, everyServerOnceMs, type NatsBusOptions, splitCredentials } from "./nats-connect.js";
export { type CredentialsFile, readCredentialsFile, userNkey } from "./nats-credentials.js";
export {
  type FleetIdentities,
  fleetPermissions,
  type NatsAuthorizationOptions,
  natsAuthorization,
  passwordVariable,
  type UserPermissions,
} from "./nats-permissions.js";
export { clusterNodes, natsClusterNodeConfig, natsLeafConfig } from "./nats-server-config.js";
export { subjectMatches } from "./subject-match.js";
export type {
  Bus,
  BusStats,
  BusStatus,
  BusSubscription,
  DropReason,
  Kv,
  KvBucketOptions,
  KvChange,
  KvEntry,
  KvOperation,
  KvStatus,
  KvWatcher,
  SubscribeOptions,
} from "./types.js";
