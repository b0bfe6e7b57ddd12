import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay, RateLimiter, Semaphore } from "./limits.ts";

test("rate limiter spaces request starts evenly (fake clock)", async () => {
  const waits: number[] = [];
  const limiter = new RateLimiter(
    20,
    () => 1000,
    async (ms) => {
      waits.push(ms);
    },
  );
  await Promise.all([limiter.take(), limiter.take(), limiter.take(), limiter.take()]);
  assert.deepEqual(waits, [0, 50, 100, 150]);
});

test("semaphore hands slots over in FIFO order and never exceeds its size", async () => {
  const sem = new Semaphore(2);
  let active = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      await sem.acquire();
      active++;
      peak = Math.max(peak, active);
      order.push(i);
      await new Promise((r) => setImmediate(r));
      active--;
      sem.release();
    }),
  );
  assert.equal(peak, 2);
  assert.deepEqual(
    order,
    Array.from({ length: 10 }, (_, i) => i),
  );
  assert.equal(sem.inUse, 0);
});

test("backoff grows exponentially, is capped, and keeps half of it as jitter", () => {
  const b = { baseMs: 100, maxMs: 1000 };
  assert.equal(
    backoffDelay(1, b, () => 0),
    50,
  );
  assert.equal(
    backoffDelay(1, b, () => 1),
    100,
  );
  assert.equal(
    backoffDelay(3, b, () => 1),
    400,
  );
  assert.equal(
    backoffDelay(10, b, () => 1),
    1000,
  );
  assert.equal(
    backoffDelay(10, b, () => 0),
    500,
  );
});
