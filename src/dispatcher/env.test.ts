import assert from "node:assert/strict";
import { test } from "node:test";
import { FatalError } from "../core/errors.ts";
import { dispatcherConfigFromEnv } from "./env.ts";

const SECRET = "capability-secret-0123456789-abcdefgh";
const WORKER = "worker-token-0123456789";
const base = {
  DATABASE_URL: "postgres://trace:pw-in-url@127.0.0.1:5432/trace",
  TRACE_WORKER_TOKEN: WORKER,
  TASK_CAPABILITY_SECRET: SECRET,
};

test("defaults: 127.0.0.1:8080, 120 s leases, 30 s → 10 min backoff with ±50 % jitter, loops on", () => {
  const cfg = dispatcherConfigFromEnv(base);
  assert.equal(cfg.host, "127.0.0.1");
  assert.equal(cfg.port, 8080);
  assert.equal(cfg.options.leaseMs, 120_000);
  assert.deepEqual(cfg.options.retry, { baseMs: 30_000, maxMs: 600_000, jitter: 0.5 });
  assert.equal(cfg.options.loops, true);
  assert.deepEqual(cfg.options.intervals, { outboxMs: 200, reaperMs: 1000, retryMs: 1000 });
  assert.equal(cfg.options.capability.audience, "trace.task");
  assert.equal(cfg.options.capability.secret, SECRET);
  assert.equal(cfg.options.workerToken, WORKER);
});

test("bad settings fail with the variable and the problem, and never echo a secret", () => {
  const cases: [Record<string, string | undefined>, RegExp][] = [
    [{ DATABASE_URL: undefined }, /DATABASE_URL/],
    [{ TRACE_WORKER_TOKEN: "short" }, /TRACE_WORKER_TOKEN must be at least 16 bytes/],
    [{ TASK_CAPABILITY_SECRET: "short-secret" }, /TASK_CAPABILITY_SECRET must be at least 32/],
    [{ DISPATCHER_BIND: "8080" }, /DISPATCHER_BIND must be host:port/],
    [{ DISPATCHER_BIND: "0.0.0.0:99999" }, /DISPATCHER_BIND port must be <= 65535/],
    [{ ORG_ID: "org-1" }, /ORG_ID must be a lowercase hyphenated UUID/],
    [{ TRACE_LEASE_MS: "0" }, /TRACE_LEASE_MS/],
    [{ TRACE_LEASE_MS: "soon" }, /TRACE_LEASE_MS/],
    [{ TRACE_RETRY_JITTER: "1.5" }, /TRACE_RETRY_JITTER/],
    [{ TRACE_RPC_POOL_MAIN_RPS: "10" }, /unknown RPC pool setting TRACE_RPC_POOL_MAIN_RPS/],
    [
      { TRACE_RPC_POOL_MAIN_REQUESTS_PER_SECOND: "fast" },
      /TRACE_RPC_POOL_MAIN_REQUESTS_PER_SECOND must be a positive number/,
    ],
    [
      { TRACE_RETRY_BASE_MS: "60000", TRACE_RETRY_MAX_MS: "1000" },
      /TRACE_RETRY_MAX_MS must be >= TRACE_RETRY_BASE_MS/,
    ],
    [{ TRACE_DISPATCHER_LOOPS: "yes" }, /TRACE_DISPATCHER_LOOPS/],
  ];
  for (const [change, expected] of cases) {
    const env = { ...base, ...change };
    assert.throws(
      () => dispatcherConfigFromEnv(env),
      (err: unknown) => {
        assert.ok(err instanceof FatalError, String(err));
        assert.equal(err.category, "config");
        assert.match(err.message, expected);
        for (const secret of [SECRET, WORKER, "pw-in-url", "short-secret"]) {
          assert.ok(!err.message.includes(secret), `${expected}: echoed a secret`);
        }
        return true;
      },
      String(expected),
    );
  }
});
