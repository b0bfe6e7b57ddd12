import { FatalError, RetryableError } from "../core/errors.ts";

/**
 * A refusal or failure with the HTTP status and the static public message the client sees.
 * The message never contains SQL, paths, tokens or DuckDB's own error text (which can echo
 * SQL); details go to `cause`, which is logged by category only.
 */
export class QueryError extends FatalError {
  readonly status: number;
  constructor(status: number, message: string, category: string, cause?: unknown) {
    super(message, { category, cause });
    this.status = status;
  }
}

/** Load-shedding: the same request may succeed later. */
export class QueryBusyError extends RetryableError {
  readonly status = 429;
  constructor() {
    super("too many concurrent queries", { category: "busy" });
  }
}

export const refuse = {
  notGranted: () => new QueryError(403, "dataset not authorized", "not_granted"),
  notPublished: () => new QueryError(403, "dataset version not published", "not_published"),
  storage: (cause?: unknown) =>
    new QueryError(403, "dataset storage not authorized", "storage_not_authorized", cause),
  manifestFetch: (cause?: unknown) =>
    new QueryError(502, "dataset manifest fetch failed", "manifest_fetch", cause),
  manifestTooLarge: () => new QueryError(413, "dataset manifest too large", "manifest_too_large"),
  manifestInvalid: (cause?: unknown) =>
    new QueryError(422, "dataset manifest invalid", "manifest_invalid", cause),
  objectFetch: (cause?: unknown) =>
    new QueryError(502, "dataset object fetch failed", "object_fetch", cause),
  objectInvalid: (cause?: unknown) =>
    new QueryError(422, "dataset object failed verification", "object_invalid", cause),
  tooLargeForCache: () =>
    new QueryError(413, "datasets too large for the query cache", "cache_too_small"),
  invalidSql: (reason: string) => new QueryError(400, "invalid sql", `gate:${reason}`),
  timeout: () => new QueryError(408, "query timed out", "timeout"),
  execution: (cause?: unknown) => new QueryError(500, "query execution failed", "execution", cause),
  planning: (cause?: unknown) =>
    new QueryError(400, "query could not be planned", "planning", cause),
  engineDenied: (cause?: unknown) =>
    new QueryError(403, "access denied by the query engine", "engine_denied", cause),
  engineRejected: (what: string) => new QueryError(400, "invalid sql", `engine:${what}`),
  hardening: (cause?: unknown) =>
    new QueryError(500, "query execution failed", "hardening_failed", cause),
  badRequest: (message: string) => new QueryError(400, message, "bad_request"),
  ambiguous: () => new QueryError(422, "ambiguous dataset grant", "ambiguous_grant"),
};
