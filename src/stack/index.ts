export { acquireHomeLock, HomeLockedError, lockPath } from "./lock.ts";
export { checkPortFree, freeLoopbackPort, PortInUseError } from "./ports.ts";
export { postmasterPid, startEmbeddedPostgres } from "./postgres.ts";
export { type PoolProbe, probeRpcPools } from "./rpc-probe.ts";
export {
  DEFAULT_DISPATCHER_PORT,
  DEFAULT_QUERY_PORT,
  type LocalStackOptions,
  type RunningLocalStack,
  redactDatabaseUrl,
  startLocalStack,
} from "./stack.ts";
