/** Small concurrency primitives for the RPC client: a semaphore, a pacing limiter, backoff. */

export function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((r) => setTimeout(r, ms));
}

/** A counting semaphore with FIFO wake-ups. */
export class Semaphore {
  private available: number;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly size: number) {
    this.available = size;
  }

  async acquire(): Promise<void> {
    if (this.available > 0) {
      this.available--;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
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
