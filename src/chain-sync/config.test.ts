import assert from "node:assert/strict";
import { test } from "node:test";
import { FatalError } from "../core/errors.ts";
import { chainSyncConfigFromEnv } from "./dispatcher.ts";

test("chain_sync environment: defaults, and specific errors that never echo the admin token", () => {
  const env = { TRACE_ADMIN_TOKEN: "admin-token-0123456789", TRACE_RPC_POOL_MAIN_URL: "http://x" };
  const cfg = chainSyncConfigFromEnv(env);
  assert.equal(cfg.adminToken, env.TRACE_ADMIN_TOKEN);
  assert.deepEqual(
    [cfg.plannerIntervalMs, cfg.headObserverIntervalMs, cfg.taskMaxAttempts],
    [1000, 1000, 3],
  );
  assert.equal(cfg.rpcEnv, env, "pools resolve from the same environment");
  const bad: [Record<string, string>, RegExp][] = [
    [{}, /TRACE_ADMIN_TOKEN/],
    [{ TRACE_ADMIN_TOKEN: "tiny-admin" }, /TRACE_ADMIN_TOKEN must be at least 16 bytes/],
    [{ ...env, TRACE_CHAIN_SYNC_PLANNER_MS: "1" }, /TRACE_CHAIN_SYNC_PLANNER_MS/],
    [{ ...env, TRACE_HEAD_OBSERVER_MS: "x" }, /TRACE_HEAD_OBSERVER_MS/],
    [{ ...env, TRACE_TASK_MAX_ATTEMPTS: "0" }, /TRACE_TASK_MAX_ATTEMPTS/],
  ];
  for (const [e, expected] of bad) {
    assert.throws(
      () => chainSyncConfigFromEnv(e),
      (err: unknown) => {
        assert.ok(err instanceof FatalError);
        assert.equal(err.category, "config");
        assert.match(err.message, expected);
        assert.ok(!err.message.includes("tiny-admin") && !err.message.includes("0123456789"));
        return true;
      },
    );
  }
});
