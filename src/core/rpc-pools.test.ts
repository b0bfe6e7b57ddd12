import assert from "node:assert/strict";
import { test } from "node:test";
import { checkRpcPoolSettings, rpcPoolExtractSettings, rpcPoolLimits } from "./rpc-pools.ts";

test("a pool's request limits come from TRACE_RPC_POOL_<POOL>_*; unset ones stay unset", () => {
  const env = {
    TRACE_RPC_POOL_MY_POOL_URL: "http://127.0.0.1:1",
    TRACE_RPC_POOL_MY_POOL_MAX_CONCURRENT_REQUESTS: "8",
    TRACE_RPC_POOL_MY_POOL_REQUESTS_PER_SECOND: " 2.5 ",
    TRACE_RPC_POOL_MY_POOL_BATCH_SIZE: "25",
    TRACE_RPC_POOL_MY_POOL_MAX_RESPONSE_BYTES: "1048576",
    TRACE_RPC_POOL_OTHER_BATCH_SIZE: "1",
  };
  assert.deepEqual(rpcPoolLimits("my-pool", env), {
    maxConcurrentRequests: 8,
    requestsPerSecond: 2.5,
    batchSize: 25,
    maxResponseBytes: 1_048_576,
  });
  assert.deepEqual(rpcPoolLimits("other", env), { batchSize: 1 });
  const logs = { ...env, TRACE_RPC_POOL_MY_POOL_LOGS_BLOCKS_PER_REQUEST: "100" };
  assert.deepEqual(rpcPoolExtractSettings("my-pool", logs), { innerRequestSize: 100 });
  assert.deepEqual(rpcPoolExtractSettings("other", logs), {});
  assert.doesNotThrow(() => checkRpcPoolSettings(logs));
  assert.deepEqual(rpcPoolLimits("none", env), {});
  assert.deepEqual(rpcPoolLimits("my-pool", { TRACE_RPC_POOL_MY_POOL_BATCH_SIZE: "" }), {});
  assert.doesNotThrow(() => checkRpcPoolSettings(env));
});

test("bad limits and misspelt pool settings are config errors naming the variable", () => {
  const bad: [Record<string, string>, RegExp][] = [
    [
      { TRACE_RPC_POOL_A_MAX_CONCURRENT_REQUESTS: "0" },
      /_A_MAX_CONCURRENT_REQUESTS must be an integer from 1/,
    ],
    [{ TRACE_RPC_POOL_A_MAX_CONCURRENT_REQUESTS: "2.5" }, /_A_MAX_CONCURRENT_REQUESTS/],
    [{ TRACE_RPC_POOL_A_BATCH_SIZE: "many" }, /TRACE_RPC_POOL_A_BATCH_SIZE must be an integer/],
    [{ TRACE_RPC_POOL_A_BATCH_SIZE: "10001" }, /TRACE_RPC_POOL_A_BATCH_SIZE/],
    [
      { TRACE_RPC_POOL_A_MAX_RESPONSE_BYTES: "1G" },
      /_A_MAX_RESPONSE_BYTES must be an integer number of bytes/,
    ],
    [{ TRACE_RPC_POOL_A_MAX_RESPONSE_BYTES: "536870889" }, /_A_MAX_RESPONSE_BYTES/],
    [
      { TRACE_RPC_POOL_A_REQUESTS_PER_SECOND: "0" },
      /_A_REQUESTS_PER_SECOND must be a positive number/,
    ],
    [{ TRACE_RPC_POOL_A_REQUESTS_PER_SECOND: "-1" }, /_A_REQUESTS_PER_SECOND/],
    [{ TRACE_RPC_POOL_A_REQUESTS_PER_SECOND: "1e3" }, /_A_REQUESTS_PER_SECOND/],
  ];
  assert.throws(
    () => checkRpcPoolSettings({ TRACE_RPC_POOL_A_LOGS_BLOCKS_PER_REQUEST: "0" }),
    /TRACE_RPC_POOL_A_LOGS_BLOCKS_PER_REQUEST must be an integer from 1 to 1000000/,
  );
  for (const [env, re] of bad) {
    assert.throws(() => rpcPoolLimits("a", env), re, JSON.stringify(env));
    assert.throws(() => checkRpcPoolSettings(env), re, JSON.stringify(env));
  }
  for (const name of ["TRACE_RPC_POOL_A_RPS", "TRACE_RPC_POOL_A_URLS", "TRACE_RPC_POOL_BATCH_SIZE"])
    assert.throws(
      () => checkRpcPoolSettings({ [name]: "10" }),
      new RegExp(
        `unknown RPC pool setting ${name}: expected TRACE_RPC_POOL_<POOL>_ followed by URL`,
      ),
      name,
    );
  // URLs are not judged here (resolveRpcPool checks them where a pool is used).
  assert.doesNotThrow(() => checkRpcPoolSettings({ TRACE_RPC_POOL_A_URL: "not a url" }));
});
