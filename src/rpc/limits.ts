/** Small concurrency primitives for the RPC client: a semaphore, a pacing limiter, backoff. */
import { RetryableError } from "../core/errors.ts";

/** What a call made for an aborted caller (e.g. a task whose lease was lost) ends with. */
export function abortedError(signal: AbortSignal): RetryableError {
  return new RetryableError("RPC call abandoned: its caller aborted", {
    category: "aborted",
    cause: signal.reason,
  });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}

/** Waits `ms`, or less if `signal` aborts (it resolves either way; callers check the signal). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** A counting semaphore with FIFO wake-ups. */
export class Semaphore {
  private available: number;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly size: number) {
    this.available = size;
  }

  /** A slot; an abort while waiting leaves the queue and rejects (no slot is taken). */
  async acquire(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (this.available > 0) {
      this.available--;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(granted);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortedError(signal as AbortSignal));
      };
      const granted = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.waiters.push(granted);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.waiters.shift();
    // Hand the slot straight to the next waiter so a newcomer can never overtake it.
    if (next) next();
    else this.available++;
  }

  get inUse(): number {
    return this.size - this.available;
  }
}

/**
 * Requests-per-second cap: evenly spaced start times (no bursts), shared by every caller.
 * Reserving the slot synchronously keeps concurrent callers from taking the same one.
 */
export class RateLimiter {
  private readonly intervalMs: number;
  private nextAt = 0;

  constructor(
    requestsPerSecond: number,
    private readonly clock: () => number = () => performance.now(),
    private readonly wait: (ms: number) => Promise<void> = sleep,
  ) {
    this.intervalMs = 1000 / requestsPerSecond;
  }

  async take(): Promise<void> {
    const now = this.clock();
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + this.intervalMs;
    await this.wait(at - now);
  }
}

/** Exponential backoff with "equal jitter": half fixed, half random, capped at maxMs. */
export function backoffDelay(
  retry: number,
  backoff: { baseMs: number; maxMs: number },
  random: () => number = Math.random,
): number {
  const exp = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, retry - 1));
  return exp / 2 + random() * (exp / 2);
}
