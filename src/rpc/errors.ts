/**
 * How RPC failures are classified. One place decides what is worth retrying:
 * transport trouble, throttling and node hiccups are retryable; requests a node can never
 * answer (unknown method, invalid params, auth) are fatal.
 */
import { FatalError, RetryableError } from "../core/errors.ts";

/** A JSON-RPC error object from a response. */
export interface JsonRpcErrorObject {
  code?: unknown;
  message?: unknown;
  data?: unknown;
}

/** Response data broke a validation rule. Retryable (another attempt may get good data). */
export class InvalidResponseError extends RetryableError {
  constructor(message: string) {
    super(message, { category: "rpc_invalid_response" });
  }
}

/** No endpoint in the pool supports this method (e.g. eth_getBlockReceipts). */
export class MethodUnsupportedError extends FatalError {
  readonly method: string;
  constructor(method: string, detail: string) {
    super(`${method} is not supported by any endpoint: ${detail}`, {
      category: "rpc_method_unsupported",
    });
    this.method = method;
  }
}

/**
 * eth_getLogs asked for too much at once (result count / response size / range limits).
 * Thrown without retrying so the caller can split the range.
 */
export class LogRangeTooLargeError extends RetryableError {
  constructor(message: string) {
    super(message, { category: "rpc_range_too_large" });
  }
}

/**
 * A response body over the client's `maxResponseBytes`, cut off. The client sends a batch again
 * in halves and splits an eth_getLogs range, without holding it against the endpoint. A single
 * call whose answer is still too large fails once every endpoint of the pool has sent one such
 * answer (one of them may be a broken proxy): asking again gets the same answer, and retries
 * (with the endpoint backed off for them) would only stall every other call for minutes.
 */
export class ResponseTooLargeError extends FatalError {
  constructor(message: string) {
    super(message, { category: "rpc_response_too_large" });
  }
}

/**
 * The endpoint answered with something that is not JSON-RPC at all (an HTML page): its URL names
 * a website, not a node. The endpoint is left out of its pool from then on; the error is only
 * thrown to the caller when no endpoint is left.
 */
export class NotJsonRpcError extends FatalError {
  constructor(message: string) {
    super(message, { category: "rpc_not_json_rpc" });
  }
}

export type JsonRpcErrorKind = "retryable" | "fatal" | "unsupported" | "too_large";

// "limit exceeded"-style throttling; the same request will succeed later.
const THROTTLED =
  /rate.?limit|too many requests|limit exceeded|exceeded .*(?:rate|capacity|quota|compute units)|capacity|throughput|try again|busy|overloaded|timeout|timed out|temporarily|unavailable|header not found|could not find block|unknown block|not synced|syncing/i;
// getLogs answers that will never fit, whatever the wait: split the range instead.
const TOO_LARGE =
  /query returned more than|more than \d+ (?:results|logs)|response size|response is too big|too many (?:results|logs)|block range|range (?:is )?too (?:large|wide|big)|exceeds? (?:the )?(?:max(?:imum)?|limit).*(?:range|blocks|results|logs)|max(?:imum)? (?:block )?range/i;
const UNSUPPORTED =
  /method .*(?:not found|not supported|does not exist|is not available|unsupported|not implemented)|unsupported method|not (?:supported|implemented)/i;

export function classifyJsonRpcError(method: string, err: JsonRpcErrorObject): JsonRpcErrorKind {
  const code = typeof err.code === "number" ? err.code : undefined;
  const message = typeof err.message === "string" ? err.message : "";
  if (code === -32601 || (code !== -32602 && UNSUPPORTED.test(message))) return "unsupported";
  if (method === "eth_getLogs" && TOO_LARGE.test(message)) return "too_large";
  if (THROTTLED.test(message)) return "retryable";
  if (code === -32005) return "retryable"; // EIP-1474 "limit exceeded"
  if (code === -32602) return "fatal"; // invalid params
  if (code === -32600) return "fatal"; // invalid request: resending it will not help
  return "retryable"; // -32000 server errors, -32603 internal error, unknown codes: bounded retries
}

export function describeJsonRpcError(err: JsonRpcErrorObject): string {
  const code = typeof err.code === "number" ? err.code : "?";
  const message = typeof err.message === "string" ? err.message.slice(0, 300) : "(no message)";
  return `JSON-RPC error ${code}: ${message}`;
}

/** Network-level error codes (undici + node) that mean "try again". */
const RETRYABLE_NET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_ABORTED",
  "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_INFO",
]);

export function isRetryableNetworkCode(code: unknown): boolean {
  return typeof code === "string" && RETRYABLE_NET_CODES.has(code);
}

/** Turn a thrown transport error into a classified one without leaking the raw URL. */
export function transportError(err: unknown, context: string, timedOut: boolean): Error {
  const code = (err as { code?: unknown } | null)?.code;
  const name = err instanceof Error ? err.name : "Error";
  if (timedOut || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
    return new RetryableError(`${context}: request timed out`, { category: "rpc_timeout" });
  }
  const detail = typeof code === "string" ? code : name;
  // TLS/certificate problems and invalid arguments are configuration errors: retrying won't help.
  if (
    typeof code === "string" &&
    /^(?:ERR_TLS|CERT_|UNABLE_TO_VERIFY|DEPTH_ZERO|SELF_SIGNED|UND_ERR_INVALID_ARG|ERR_INVALID)/.test(
      code,
    )
  ) {
    return new FatalError(`${context}: transport failure (${detail})`, {
      category: "rpc_transport",
    });
  }
  // Everything else at the socket level (resets, refused, premature close) is transient;
  // the bounded attempt count keeps this fail-closed.
  return new RetryableError(`${context}: connection error (${detail})`, {
    category: "rpc_connection",
  });
}
