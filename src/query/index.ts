export { type AttachLimits, attachDatasets } from "./attach.ts";
export { ObjectCache } from "./cache.ts";
export { QueryBusyError, QueryError } from "./errors.ts";
export { checkSql, type GateResult, MAX_SQL_LENGTH } from "./gate.ts";
export { Limiter } from "./limiter.ts";
export { DatabasePool, type EngineSettings } from "./pool.ts";
export {
  createQueryService,
  type Principal,
  type QueryContext,
  type QueryLimits,
  type QueryRequest,
  type QueryResponse,
  type QueryService,
  type QueryServiceOptions,
  runQuery,
} from "./service.ts";
export {
  type OpenSession,
  openLockedQuery,
  runLockedQuery,
  type SessionOptions,
  type ViewSpec,
} from "./session.ts";
