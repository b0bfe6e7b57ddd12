import assert from "node:assert/strict";
import { test } from "node:test";
import { parseWorkerArgs, workerConfigFromEnv } from "./config.ts";

const base = {
  TRACE_DISPATCHER_URL: "http://127.0.0.1:8080",
  TRACE_WORKER_TOKEN: "worker-token-0123456789",
  DATABASE_URL: "postgres://u:p@127.0.0.1/db",
};

test("defaults: in-process, concurrency 1, pgqueue settings, caps from MAX_PARQUET_*", () => {
  const { options, shutdownDeadlineMs } = workerConfigFromEnv({
    ...base,
    MAX_PARQUET_FILES_PER_RANGE: "7",
    TRACE_WORKER_CONCURRENCY: "",
  });
  assert.equal(options.mode, "inprocess");
  assert.equal(options.concurrency, 1);
  assert.equal(options.objectStoreUrl, "./.trace/objects");
  assert.deepEqual(options.queue, {
    databaseUrl: base.DATABASE_URL,
    name: "task_wakeup",
    pollMs: 200,
    visibilityMs: 30_000,
    requeueDelayMs: 500,
  });
  assert.equal(options.caps?.maxFiles, 7);
  assert.equal(shutdownDeadlineMs, 30_000);
  assert.equal(options.extractOptions, undefined, "the engine's own defaults");
  const deep = workerConfigFromEnv({ ...base, TRACE_MAX_BLOCKS_IN_FLIGHT: "400" });
  assert.deepEqual(deep.options.extractOptions, { maxBlocksInFlight: 400 });
  const cli = workerConfigFromEnv({ ...base, TRACE_CRYO_MODE: "CLI", TRACE_CRYO_BIN: "/opt/cryo" });
  assert.equal(cli.options.mode, "cli");
  assert.equal(cli.options.cryo?.bin, "/opt/cryo");
});

test("bad input fails with a specific message that never echoes secrets", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ TRACE_DISPATCHER_URL: "" }, /TRACE_DISPATCHER_URL/],
    [{ TRACE_DISPATCHER_URL: "not a url" }, /TRACE_DISPATCHER_URL must be a URL/],
    [{ TRACE_WORKER_TOKEN: "short" }, /TRACE_WORKER_TOKEN must be at least 16 bytes/],
    [{ DATABASE_URL: "" }, /DATABASE_URL/],
    [{ TRACE_CRYO_MODE: "fake" }, /TRACE_CRYO_MODE must be "inprocess" or "cli"/],
    [{ TRACE_WORKER_CONCURRENCY: "0" }, /TRACE_WORKER_CONCURRENCY/],
    [{ TRACE_WORKER_CONCURRENCY: "two" }, /TRACE_WORKER_CONCURRENCY/],
    [{ TRACE_MAX_BLOCKS_IN_FLIGHT: "0" }, /TRACE_MAX_BLOCKS_IN_FLIGHT/],
    [{ TRACE_MAX_BLOCKS_IN_FLIGHT: "many" }, /TRACE_MAX_BLOCKS_IN_FLIGHT/],
    [{ MAX_PARQUET_BYTES_PER_FILE: "-1" }, /MAX_PARQUET_BYTES_PER_FILE must be a positive integer/],
    [
      { TRACE_RPC_POOL_MAIN_RATE_LIMIT: "5" },
      /unknown RPC pool setting TRACE_RPC_POOL_MAIN_RATE_LIMIT/,
    ],
    [
      { TRACE_RPC_POOL_MAIN_MAX_CONCURRENT_REQUESTS: "0" },
      /TRACE_RPC_POOL_MAIN_MAX_CONCURRENT_REQUESTS must be an integer from 1 to 10000/,
    ],
  ];
  for (const [override, re] of cases) {
    assert.throws(
      () => workerConfigFromEnv({ ...base, ...override }),
      (err: Error) => re.test(err.message) && !err.message.includes("worker-token-0123456789"),
      JSON.stringify(override),
    );
  }
});

test("--concurrency N on the command line; anything else is refused", () => {
  assert.deepEqual(parseWorkerArgs([]), {});
  assert.deepEqual(parseWorkerArgs(["--concurrency", "4"]), { concurrency: 4 });
  assert.deepEqual(parseWorkerArgs(["--concurrency=12"]), { concurrency: 12 });
  for (const bad of [
    ["--concurrency"],
    ["--concurrency", "0"],
    ["--concurrency=x"],
    ["--concurrency", "257"],
  ])
    assert.throws(() => parseWorkerArgs(bad), /--concurrency must be an integer in \[1, 256\]/);
  assert.throws(() => parseWorkerArgs(["--threads", "2"]), /unknown argument "--threads"/);
});
