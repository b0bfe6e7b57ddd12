/**
 * Retry backoff for failed attempts: exponential from `baseMs`, capped at `maxMs`, multiplied by
 * a random factor in [1 - jitter, 1 + jitter] so retries of a burst of failures spread out
 * (trace-rust §2.6: 30 s → 10 min, rand(0.5..1.5)).
 */
export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
  /** 0 = no jitter; 0.5 = ±50 %. Must be in [0, 1). */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseMs: 30_000, maxMs: 600_000, jitter: 0.5 };

export function checkRetryPolicy(p: RetryPolicy): void {
  if (!Number.isFinite(p.baseMs) || p.baseMs < 0) throw new RangeError("retry.baseMs must be >= 0");
  if (!Number.isFinite(p.maxMs) || p.maxMs < p.baseMs)
    throw new RangeError("retry.maxMs must be >= retry.baseMs");
  if (!(p.jitter >= 0 && p.jitter < 1)) throw new RangeError("retry.jitter must be in [0, 1)");
}

/** Delay before attempt `failedAttempt + 1`; `failedAttempt` starts at 1. */
export function retryDelayMs(
  policy: RetryPolicy,
  failedAttempt: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failedAttempt - 1));
  const factor = 1 - policy.jitter + 2 * policy.jitter * random();
  return Math.max(0, Math.round(exp * factor));
}
