import { FatalError, RetryableError, TraceError } from "../core/errors.ts";

/**
 * The one place where object-store failures get their class. Transport trouble, 5xx and
 * throttling may pass (the SDK has already retried them by the time we see them, so the task
 * retries); access, bucket and request-shape problems never will. Anything we cannot place is
 * fatal, as in core (fail closed), except I/O errors of the local disk, which are transient by
 * nature (EIO, ENOSPC may clear).
 */

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "ERR_STREAM_PREMATURE_CLOSE",
]);
const NETWORK_NAMES = new Set(["TimeoutError", "RequestTimeout", "RequestTimeoutException"]);
const THROTTLING_NAMES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "ServiceUnavailable",
  "InternalError",
]);
const ACCESS_NAMES = new Set([
  "AccessDenied",
  "AllAccessDisabled",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "AccountProblem",
  "InvalidToken",
  "ExpiredToken",
]);
const LOCAL_FATAL_CODES: Record<string, string> = {
  EACCES: "access_denied",
  EPERM: "access_denied",
  EROFS: "access_denied",
  EISDIR: "invalid_object_name",
  ENOTDIR: "invalid_object_name",
  ENAMETOOLONG: "invalid_object_name",
  EEXIST: "invalid_object_name",
};

interface SdkLikeError {
  name?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

function* chain(err: unknown): Generator<SdkLikeError> {
  const seen = new Set<unknown>();
  let cur: unknown = err;
  while (cur && typeof cur === "object" && !seen.has(cur)) {
    seen.add(cur);
    yield cur as SdkLikeError;
    cur = (cur as { cause?: unknown }).cause;
  }
}

/** Wraps a store failure into a classified TraceError; TraceErrors pass through unchanged. */
export function storageError(err: unknown, action: string): TraceError {
  if (err instanceof TraceError) return err;
  const msg = `${action} failed`;
  const retryable = (category: string) => new RetryableError(msg, { category, cause: err });
  const fatal = (category: string) => new FatalError(msg, { category, cause: err });
  for (const e of chain(err)) {
    const name = e.Code ?? e.name ?? "";
    const status = e.$metadata?.httpStatusCode;
    if (ACCESS_NAMES.has(name) || status === 401 || status === 403) return fatal("access_denied");
    if (name === "NoSuchBucket") return fatal("no_such_bucket");
    if (name === "NoSuchKey" || name === "NotFound") return fatal("object_not_found");
    if (THROTTLING_NAMES.has(name) || status === 429 || status === 503)
      return retryable("storage_throttled");
    if (status !== undefined && status >= 500) return retryable("storage_unavailable");
    if (status !== undefined && status >= 400) return fatal("storage_rejected");
    if (NETWORK_NAMES.has(name) || (e.code && NETWORK_CODES.has(e.code)))
      return retryable("storage_network");
    if (e.code && e.code in LOCAL_FATAL_CODES) return fatal(LOCAL_FATAL_CODES[e.code]!);
    if (e.code === "ENOENT") return fatal("object_not_found");
    if (e.code && /^E[A-Z]+$/.test(e.code)) return retryable("storage_io");
  }
  return fatal("storage_error");
}
