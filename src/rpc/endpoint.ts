/**
 * One JSON-RPC endpoint: its HTTP transport (shared keep-alive undici Agent) and its health
 * (a circuit-breaker-ish backoff that moves traffic to the other endpoints of the pool).
 */
import { isAscii } from "node:buffer";
import { type Dispatcher, request } from "undici";
import { FatalError, RetryableError } from "../core/errors.ts";
import { redactUrl } from "../core/rpc-pools.ts";
import { type Body, readBody } from "./body-buffers.ts";
import { NotJsonRpcError, ResponseTooLargeError, transportError } from "./errors.ts";
import type { EndpointStats } from "./types.ts";

/** 429: carries the server's Retry-After so the pool can honour it. */
export class RateLimitedError extends RetryableError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs: number | undefined) {
    super(message, { category: "rpc_rate_limited" });
    this.retryAfterMs = retryAfterMs;
  }
}

/** Parse Retry-After (delta-seconds or HTTP date) into milliseconds from now. */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now = Date.now(),
): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === "") return undefined;
  if (/^\d+(?:\.\d+)?$/.test(v.trim())) return Math.round(Number(v.trim()) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** After this many consecutive failures an endpoint is treated as down, not just flaky. */
const HARD_FAILURE_THRESHOLD = 3;

export class Endpoint {
  /** Redacted, unique within the pool: safe for errors, logs and stats. */
  readonly label: string;
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private consecutiveFailures = 0;
  /** performance.now() until which the endpoint is backed off (routing prefers others). */
  openUntil = 0;
  /** performance.now() until which nobody should use it (Retry-After, or it looks down). */
  hardUntil = 0;
  readonly unsupported = new Set<string>();
  /** Set when the endpoint is not a JSON-RPC endpoint at all: it is not used any more. */
  broken: NotJsonRpcError | undefined;
  requests = 0;
  failures = 0;

  constructor(
    rawUrl: string,
    label: string,
    private readonly dispatcher: Dispatcher,
    private readonly timeoutMs: number,
    /** The dispatcher's `maxResponseSize` (it cuts the body off); named in the error. */
    private readonly maxResponseBytes: number,
  ) {
    let u: URL;
    try {
      u = new URL(rawUrl);
    } catch {
      throw new FatalError(`invalid RPC URL (${label})`, { category: "config" });
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      throw new FatalError(`RPC URL must be http(s): ${redactUrl(rawUrl)}`, { category: "config" });
    }
    this.label = label;
    this.headers = { "content-type": "application/json", accept: "application/json" };
    // userinfo becomes Basic auth: URLs with credentials are not sent as-is by HTTP clients.
    if (u.username !== "" || u.password !== "") {
      const user = decodeURIComponent(u.username);
      const pass = decodeURIComponent(u.password);
      this.headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
      u.username = "";
      u.password = "";
    }
    this.url = u.toString();
  }

  /** Redacted default label for a URL (credentials, path and query hidden). */
  static labelFor(rawUrl: string): string {
    return redactUrl(rawUrl);
  }

  isOpen(now: number): boolean {
    return this.openUntil > now;
  }

  recordSuccess(): void {
    this.consecutiveFailures = 0;
    this.openUntil = 0;
    this.hardUntil = 0;
  }

  /**
   * Back the endpoint off: exponential in consecutive failures, at least Retry-After. The pool
   * routes around an open endpoint; it only *waits* for one (hardUntil) when the server asked
   * for it (429) or the endpoint looks down (several failures in a row).
   */
  recordFailure(
    backoff: { baseMs: number; maxMs: number },
    retryAfterMs?: number,
    rateLimited = false,
  ): void {
    this.failures++;
    this.consecutiveFailures++;
    const exp = Math.min(backoff.maxMs, backoff.baseMs * 2 ** (this.consecutiveFailures - 1));
    this.openUntil = performance.now() + Math.max(exp, retryAfterMs ?? 0);
    const hard = rateLimited || this.consecutiveFailures >= HARD_FAILURE_THRESHOLD;
    this.hardUntil = hard ? this.openUntil : 0;
  }

  stats(now: number): EndpointStats {
    return {
      requests: this.requests,
      failures: this.failures,
      consecutiveFailures: this.consecutiveFailures,
      backedOff: this.isOpen(now),
      unsupported: [...this.unsupported].sort(),
    };
  }

  /**
   * POST one JSON-RPC body; returns the parsed JSON, or what `decode` made of a 2xx body (when
   * it returns undefined, the body is parsed as JSON as usual). Throws RetryableError for
   * throttling, 5xx, timeouts, connection errors and unparsable bodies; FatalError for other
   * HTTP errors. `context` names the call(s) for error messages.
   */
  async post(
    body: string,
    context: string,
    signal?: AbortSignal,
    decode?: (body: Buffer) => unknown,
  ): Promise<unknown> {
    this.requests++;
    const where = `${context} via ${this.label}`;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    // The caller's abort ends the HTTP request too (its socket is destroyed, not left to time out).
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    let status: number;
    let response: Body;
    let retryAfter: string | string[] | undefined;
    try {
      const res = await request(this.url, {
        method: "POST",
        headers: this.headers,
        body,
        dispatcher: this.dispatcher,
        signal: controller.signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = res.statusCode;
      retryAfter = res.headers["retry-after"];
      const length = Number(res.headers["content-length"]);
      response = await readBody(res.body, Number.isSafeInteger(length) ? length : undefined);
    } catch (err) {
      if ((err as { code?: unknown } | null)?.code === "UND_ERR_RES_EXCEEDED_MAX_SIZE")
        throw new ResponseTooLargeError(
          `${where}: response larger than ${this.maxResponseBytes} bytes (maxResponseBytes; trace extract --max-response-bytes, TRACE_RPC_POOL_<POOL>_MAX_RESPONSE_BYTES)`,
        );
      throw transportError(err, where, timedOut);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }

    try {
      return answer(response.bytes, status, retryAfter, where, decode);
    } finally {
      response.release();
    }
  }
}

/** What a response says: its decoded or parsed JSON, or the error its status or body means. */
function answer(
  bytes: Buffer,
  status: number,
  retryAfter: string | string[] | undefined,
  where: string,
  decode: ((body: Buffer) => unknown) | undefined,
): unknown {
  if (status === 429) {
    throw new RateLimitedError(`${where}: HTTP 429 Too Many Requests`, parseRetryAfter(retryAfter));
  }
  if (status >= 500 || status === 408 || status === 425) {
    throw new RetryableError(`${where}: HTTP ${status}`, { category: "rpc_http_status" });
  }
  if (decode && status >= 200 && status < 300) {
    const decoded = decode(bytes);
    if (decoded !== undefined) return decoded;
  }
  const text = decodeBody(bytes);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    if (status < 200 || status >= 300) {
      throw new FatalError(`${where}: HTTP ${status}`, { category: "rpc_http_status" });
    }
    // No JSON text starts with "<": this is a web page (the URL names a website, not the node's
    // JSON-RPC endpoint), and asking again for minutes would only delay saying so.
    if (/^\s*</.test(text.slice(0, 256)))
      throw new NotJsonRpcError(
        `${where}: answered with an HTML page (HTTP ${status}), not JSON-RPC: is the URL the node's JSON-RPC endpoint?`,
      );
    throw new RetryableError(
      `${where}: invalid or truncated JSON in response (${text.length} bytes)`,
      { category: "rpc_invalid_json" },
    );
  }
  // Some nodes put JSON-RPC errors in 4xx responses; let the per-call classifier decide.
  if ((status < 200 || status >= 300) && !isJsonRpcShaped(json)) {
    throw new FatalError(`${where}: HTTP ${status}`, { category: "rpc_http_status" });
  }
  return json;
}

/**
 * The response text. JSON-RPC bodies are ASCII in practice, and Node turns an ASCII buffer of
 * ~1 MB or more decoded as latin1 into an *external* string (its bytes outside the V8 heap,
 * freed as soon as the small string object dies in the young generation), where a UTF-8 decode
 * (undici's `text()`) makes a heap string, and one that large goes straight into V8's
 * large-object space, an old-generation area only a full mark-compact frees. Batches of mainnet blocks are several MB
 * each, so that garbage was ~75 MiB of an extraction's peak RSS (bench/extract.ts). For ASCII
 * bytes latin1 and UTF-8 decode to the same text; anything else is decoded as UTF-8 (a byte
 * order mark dropped, as `text()` does).
 */
function decodeBody(b: Buffer): string {
  if (isAscii(b)) return b.toString("latin1");
  const text = b.toString("utf8");
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function isJsonRpcShaped(json: unknown): boolean {
  if (Array.isArray(json)) return true;
  return typeof json === "object" && json !== null && ("error" in json || "result" in json);
}
