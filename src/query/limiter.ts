import { QueryBusyError } from "./errors.ts";

/**
 * The concurrency cap: at most `maxConcurrent` queries run; up to `maxQueued` more wait (FIFO)
 * for at most `maxWaitMs`; anything beyond is shed with 429 at once. Each DuckDB query holds a
 * libuv worker thread, so maxConcurrent should stay below UV_THREADPOOL_SIZE (default 4).
 */
export class Limiter {
  private running = 0;
  /** Highest number of queries ever running at once (tests, metrics). */
  peak = 0;
  private readonly waiting: { grant: () => void; timer: NodeJS.Timeout }[] = [];

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueued: number,
    readonly maxWaitMs: number,
  ) {
    if (!Number.isSafeInteger(maxConcurrent) || maxConcurrent < 1)
      throw new Error("maxConcurrent must be a positive integer");
    if (!Number.isSafeInteger(maxQueued) || maxQueued < 0)
      throw new Error("maxQueued must be a non-negative integer");
  }

  get active(): number {
    return this.running;
  }
  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves with a release function once a slot is held. */
  async acquire(): Promise<() => void> {
    if (this.running < this.maxConcurrent) {
      this.running++;
      this.peak = Math.max(this.peak, this.running);
      return this.releaser();
    }
    if (this.waiting.length >= this.maxQueued) throw new QueryBusyError();
    return await new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          clearTimeout(entry.timer);
          resolve(this.releaser());
        },
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(entry);
          if (i !== -1) this.waiting.splice(i, 1);
          reject(new QueryBusyError());
        }, this.maxWaitMs),
      };
      this.waiting.push(entry);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter; `running` stays the same.
      if (next) next.grant();
      else this.running--;
    };
  }
}
