/**
 * Worker rules, full stack in one process: duplicate wake-ups run a task once; a cap violation
 * fails it fatally and publishes nothing; the primary path writes no Parquet to local disk; a lost
 * lease stops the extraction without completing; shutdown aborts running tasks cleanly.
 */
import assert from "node:assert/strict";
import { basename } from "node:path";
import { after, test } from "node:test";
import { eventually } from "../src/dispatcher/testkit.ts";
import { connect, getTask, listTaskEvents } from "../src/state/index.ts";
import {
  chainSync,
  enqueueRanges,
  manifestAndListing,
  type Stack,
  settled,
  startStack,
  versionsOf,
} from "../src/worker/testing/stack.ts";
import { startStallProxy } from "../src/worker/testing/stall-proxy.ts";
import { nonOpenWrites, recordLocalWrites } from "./support/local-writes.ts";

const stack: Stack = await startStack({ label: "worker_rules" });
const proxy = await startStallProxy(stack.devnet.url);
after(async () => {
  await proxy.close();
});
const stallEnv = { ...stack.env, TRACE_RPC_POOL_STALL_URL: proxy.url };

test("a lost lease (heartbeat refused) stops the extraction, aborts the sink and does not complete", async () => {
  const [r] = await enqueueRanges(stack.sql, {
    datasets: ["transactions"],
    from: 0,
    to: 400,
    size: 400,
    pool: "stall",
    maxAttempts: 5,
  });
  const w = stack.worker({
    env: stallEnv,
    heartbeatIntervalMs: 50,
    extractOptions: { chunkSize: 20 },
  });
  const running = w.runTask(r!.taskId);
  const prefixOf = `cryo/31337/${r!.payload.dataset_uuid}/`;
  // Some chunks are uploaded; then the chain stops answering and the lease is taken away.
  await eventually(async () => (await stack.store.list(prefixOf)).length >= 2, 20_000, "uploads");
  proxy.stall();
  await stack.sql`UPDATE state.tasks SET lease_expires_at = now() - interval '1 second'
                   WHERE task_id = ${r!.taskId}`;
  const result = await running;
  proxy.release();
  assert.deepEqual(result, { kind: "lease_lost", attempt: 1 });
  const events = await listTaskEvents(stack.sql, r!.taskId);
  assert.ok(!events.some((e) => e.event === "completed" || e.event === "failed"));
  assert.deepEqual(await versionsOf(stack.sql, [r!]), []);
  assert.deepEqual(await stack.store.listIncomplete(prefixOf), []);
  // The reaper turns the lost lease into attempt 2, which a later worker completes.
  await eventually(
    async () => (await getTask(stack.sql, r!.taskId))?.attempt === 2,
    10_000,
    "reap",
  );
  stallTask = r!.taskId;
});
let stallTask: string | undefined;

test("stop() lets running tasks finish until the deadline, then aborts them cleanly as retryable", async () => {
  const [r] = await enqueueRanges(stack.sql, {
    datasets: ["blocks"],
    from: 0,
    to: 300,
    size: 300,
    pool: "stall",
  });
  const w = stack.worker({ env: stallEnv, concurrency: 2 });
  proxy.stall();
  await w.start();
  await eventually(async () => (await getTask(stack.sql, r!.taskId))?.status === "running");
  await w.stop({ deadlineMs: 300 });
  proxy.release();
  const task = await getTask(stack.sql, r!.taskId);
  assert.equal(task?.last_error_category, "worker_shutdown");
  assert.equal(task?.attempt, 2, "a retry was scheduled");
  assert.notEqual(task?.status, "running");
  assert.deepEqual(await stack.store.list(`cryo/31337/${r!.payload.dataset_uuid}/`), []);
});

test("duplicate wake-ups for the same task run it once; malformed wake-ups are dropped", async () => {
  const [r] = await enqueueRanges(stack.sql, {
    datasets: ["blocks"],
    from: 1_000,
    to: 1_050,
    size: 50,
  });
  const q = stack.dispatcher.queue;
  for (let i = 0; i < 4; i++) await q.publish("task_wakeup", { task_id: r!.taskId });
  await q.publish("task_wakeup", { nonsense: true });
  await q.publish("task_wakeup", "not even an object");
  await stack.worker({ concurrency: 4, env: stallEnv }).start();
  const [task] = await settled(stack.sql, [r!.taskId, ...(stallTask ? [stallTask] : [])]);
  assert.equal(task?.status, "completed");
  assert.equal(task?.attempt, 1);
  await eventually(async () => (await q.depth("task_wakeup")) === 0, 10_000, "all wake-ups acked");
  const events = await listTaskEvents(stack.sql, r!.taskId);
  assert.equal(events.filter((e) => e.event === "claimed").length, 1);
  const versions = await versionsOf(stack.sql, [r!]);
  assert.equal(versions.length, 1);
  const { read } = await manifestAndListing(stack, versions[0]!);
  assert.equal(read.objects.length, 1);
  if (stallTask) {
    const t = await getTask(stack.sql, stallTask);
    assert.equal(t?.status, "completed", "the lease-lost task was completed by its next attempt");
    const [v] = await versionsOf(stack.sql, [{ taskId: stallTask, payload: t!.payload as never }]);
    const m = await manifestAndListing(stack, v!);
    assert.deepEqual(
      m.read.objects.map((o) => o.name),
      m.listed.map((o) => o.key.slice(m.prefix.length)).filter((n) => n !== "_manifest.json"),
    );
  }
});

test("a cap violation fails the task fatally: nothing is published, the range shows failed", async () => {
  // The consuming worker of the test above must not take this range: stop it first.
  await Promise.all(stack.workers.map((w) => w.stop({ deadlineMs: 5_000 })));
  await stack.worker({ caps: { maxBytesPerFile: 2_000 } }).start();
  const { status, ranges } = await chainSync(stack, {
    name: "capped",
    datasets: ["transactions"],
    from: 2_000,
    to: 2_050,
    size: 50,
    untilFailed: 1,
  });
  const [stream] = status.streams;
  assert.deepEqual(stream?.ranges, { scheduled: 0, completed: 0, failed: 1 });
  assert.equal(stream?.last_error?.category, "cap_exceeded");
  assert.equal(status.completed, false);
  const task = await getTask(stack.sql, ranges[0]!.taskId);
  assert.equal(task?.status, "failed");
  assert.equal(task?.attempt, 1, "not retried");
  assert.equal(task?.last_error_category, "cap_exceeded");
  assert.match(task?.last_error_message ?? "", /MAX_PARQUET_BYTES_PER_FILE exceeded/);
  assert.deepEqual(await versionsOf(stack.sql, ranges), []);
  const prefix = `cryo/31337/${ranges[0]!.payload.dataset_uuid}/`;
  assert.deepEqual(await stack.store.list(prefix), []);
  assert.deepEqual(await stack.store.listIncomplete(prefix), []);
  await Promise.all(stack.workers.map((w) => w.stop({ deadlineMs: 5_000 })));
});

test("the primary (in-process) path writes no Parquet to local disk", async () => {
  const [r] = await enqueueRanges(stack.sql, {
    datasets: ["logs"],
    from: 3_000,
    to: 3_400,
    size: 400,
  });
  const w = stack.worker({ extractOptions: { chunkSize: 100 } });
  const { result, writes, created } = await recordLocalWrites(() => w.runTask(r!.taskId));
  assert.equal(result.kind === "completed" && result.outcome, "success");
  // Reads may open files (code, certificates); nothing may be written or created.
  assert.deepEqual(nonOpenWrites(writes), []);
  const [v] = await versionsOf(stack.sql, [r!]);
  const { read } = await manifestAndListing(stack, v!);
  assert.equal(read.objects.length, 4);
  // No published file exists under the same name on local disk.
  const published = new Set(read.objects.map((o) => basename(o.key)));
  assert.deepEqual(
    created.filter((p) => published.has(basename(p))),
    [],
  );
});

test("a pool's LOGS_BLOCKS_PER_REQUEST sets the blocks per eth_getLogs call of its tasks", async () => {
  const logsCalls = () => stack.devnet.stats().callsByMethod.eth_getLogs ?? 0;
  for (const perRequest of ["", "50"]) {
    const [r] = await enqueueRanges(stack.sql, {
      datasets: ["logs"],
      from: perRequest === "" ? 4_000 : 4_100,
      to: perRequest === "" ? 4_100 : 4_200,
      size: 100,
    });
    const env = { ...stack.env, TRACE_RPC_POOL_MAIN_LOGS_BLOCKS_PER_REQUEST: perRequest };
    const before = logsCalls();
    const result = await stack.worker({ env }).runTask(r!.taskId);
    assert.equal(result.kind === "completed" && result.outcome, "success");
    // One call per block by default (cryo's inner request size 1); two calls of 50 blocks.
    assert.equal(logsCalls() - before, perRequest === "" ? 100 : 2);
  }
});

test("the worker runs with a database role limited to the queue tables (README boundary)", async () => {
  const role = `worker_q_${Date.now().toString(36)}`;
  await stack.sql.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'queue-only-pw'`);
  await stack.sql.unsafe(`GRANT USAGE ON SCHEMA state TO ${role}`);
  await stack.sql.unsafe(`GRANT SELECT, INSERT, UPDATE, DELETE ON state.queue_messages TO ${role}`);
  await stack.sql.unsafe(`GRANT SELECT, INSERT ON state.queue_dead_letters TO ${role}`);
  const url = new URL(stack.dbUrl);
  url.username = role;
  url.password = "queue-only-pw";
  const limited = connect(url.toString(), { max: 1 });
  try {
    await assert.rejects(limited`SELECT 1 FROM state.tasks LIMIT 1`, /permission denied/);
  } finally {
    await limited.end();
  }
  const [r] = await enqueueRanges(stack.sql, {
    datasets: ["blocks"],
    from: 4_000,
    to: 4_020,
    size: 20,
  });
  await stack.worker({ queue: { databaseUrl: url.toString(), pollMs: 20 } }).start();
  const [task] = await settled(stack.sql, [r!.taskId]);
  assert.equal(task?.status, "completed");
  assert.equal((await versionsOf(stack.sql, [r!])).length, 1);
  await Promise.all(stack.workers.map((w) => w.stop({ deadlineMs: 5_000 })));
});
