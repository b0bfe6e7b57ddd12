/**
 * Every error Trace raises carries a class: retryable (the same work may succeed later:
 * network blips, throttling, 5xx, lost races) or fatal (it never will: bad input, caps,
 * access denied, schema violations). Retry policy is decided from this class alone.
 */
export type ErrorClass = "retryable" | "fatal";

export abstract class TraceError extends Error {
  abstract readonly errorClass: ErrorClass;
  /** A short machine-readable category, e.g. "rpc_timeout", "cap_exceeded". */
  readonly category: string;

  constructor(message: string, options: { category?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.category = options.category ?? "unknown";
  }

  get retryable(): boolean {
    return this.errorClass === "retryable";
  }
}

export class RetryableError extends TraceError {
  readonly errorClass = "retryable" as const;
}

export class FatalError extends TraceError {
  readonly errorClass = "fatal" as const;
}

/**
 * Classify any thrown value. Trace errors keep their class; the nearest classified error in
 * the cause chain wins; anything unclassified is treated as fatal (fail closed: an unknown
 * failure must not be retried forever).
 */
export function classify(err: unknown): ErrorClass {
  for (const e of causeChain(err)) {
    if (e instanceof TraceError) return e.errorClass;
  }
  return "fatal";
}

export function isRetryable(err: unknown): boolean {
  return classify(err) === "retryable";
}

/** The error followed by its causes, outermost first; stops on cycles. */
export function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  const seen = new Set<unknown>();
  let cur: unknown = err;
  while (cur !== undefined && cur !== null && !seen.has(cur)) {
    chain.push(cur);
    seen.add(cur);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return chain;
}

/** The category of the nearest TraceError in the chain, or "unknown". */
export function errorCategory(err: unknown): string {
  for (const e of causeChain(err)) {
    if (e instanceof TraceError) return e.category;
  }
  return "unknown";
}

/** "msg: cause msg: cause msg" — for logs and CLI output. */
export function describeError(err: unknown): string {
  return (
    causeChain(err)
      .map((e) => (e instanceof Error ? e.message : String(e)))
      // A wrapper often repeats its cause's text already ("gave up after 5 attempts: HTTP 500");
      // print each piece of text once.
      .filter((m, i, all) => m.length > 0 && !all.slice(0, i).some((outer) => outer.includes(m)))
      .join(": ")
  );
}
