import assert from "node:assert/strict";
import { test } from "node:test";
import { checkRetryPolicy, DEFAULT_RETRY_POLICY, retryDelayMs } from "./backoff.ts";

test("backoff doubles from base, caps at max, and jitter stays within ±jitter", () => {
  const p = { baseMs: 1000, maxMs: 5000, jitter: 0 };
  assert.deepEqual(
    [1, 2, 3, 4, 10].map((a) => retryDelayMs(p, a)),
    [1000, 2000, 4000, 5000, 5000],
  );
  const j = { ...DEFAULT_RETRY_POLICY };
  assert.equal(
    retryDelayMs(j, 1, () => 0),
    15_000,
  );
  assert.equal(
    retryDelayMs(j, 1, () => 1),
    45_000,
  );
  assert.equal(
    retryDelayMs(j, 20, () => 0.5),
    600_000,
  );
  for (let i = 0; i < 200; i++) {
    const d = retryDelayMs(j, 2);
    assert.ok(d >= 30_000 && d <= 90_000, `delay ${d} out of range`);
  }
});

test("bad retry policies are refused with a specific message", () => {
  assert.throws(() => checkRetryPolicy({ baseMs: -1, maxMs: 1, jitter: 0 }), /baseMs/);
  assert.throws(() => checkRetryPolicy({ baseMs: 10, maxMs: 1, jitter: 0 }), /maxMs/);
  assert.throws(() => checkRetryPolicy({ baseMs: 1, maxMs: 1, jitter: 1 }), /jitter/);
});
