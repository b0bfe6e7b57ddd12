/**
 * The worker process itself (src/worker/main.ts): `--concurrency N` reaches the worker, and
 * SIGTERM stops claiming, gives the running task the shutdown grace, then aborts it cleanly
 * (completed as retryable `worker_shutdown`, nothing left in the store) and exits 0; a token the
 * dispatcher rejects, an unknown TRACE_MEMORY or an object store it cannot write to ends it with
 * exit 2.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, test } from "node:test";
import { eventually } from "../src/dispatcher/testkit.ts";
import { getTask } from "../src/state/index.ts";
import { enqueueRanges, type Stack, startStack } from "../src/worker/testing/stack.ts";
import { startStallProxy } from "../src/worker/testing/stall-proxy.ts";

const stack: Stack = await startStack({ label: "worker_signal" });
const proxy = await startStallProxy(stack.devnet.url);
after(async () => {
  await proxy.close();
});

test("SIGTERM: stop claiming, abort the running task after the grace, exit 0; --concurrency applies", async () => {
  const [r] = await enqueueRanges(stack.sql, {
    datasets: ["blocks"],
    from: 0,
    to: 300,
    size: 300,
    pool: "stall",
  });
  proxy.stall();
  const w = stack.spawnWorker(
    {
      TRACE_RPC_POOL_STALL_URL: proxy.url,
      TRACE_WORKER_CONCURRENCY: "1",
      TRACE_WORKER_SHUTDOWN_MS: "300",
    },
    ["--concurrency", "3"],
  );
  const { proc, out, exited } = w;
  await eventually(
    async () => {
      if (proc.exitCode !== null) throw new Error(`worker exited early: ${out.stderr}`);
      return (await getTask(stack.sql, r!.taskId))?.status === "running";
    },
    60_000,
    "the task running in the child worker",
  );
  proc.kill("SIGTERM");
  const code = await exited;
  proxy.release();
  assert.equal(code, 0, out.stderr);

  const events = out.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const started = events.find((e) => e.event === "worker.started");
  assert.equal(started?.concurrency, 3, "the --concurrency flag overrides the environment");
  assert.ok(events.some((e) => e.event === "worker.stopping.abort"));
  assert.ok(events.some((e) => e.event === "worker.stopped"));

  const task = await getTask(stack.sql, r!.taskId);
  assert.equal(task?.last_error_category, "worker_shutdown");
  assert.notEqual(task?.status, "running");
  assert.notEqual(task?.status, "completed");
  assert.deepEqual(await stack.store.list(`cryo/31337/${r!.payload.dataset_uuid}/`), []);
  assert.deepEqual(await stack.store.listIncomplete(`cryo/31337/${r!.payload.dataset_uuid}/`), []);
});

test("a worker whose token the dispatcher rejects hands the wake-up back, stops claiming and exits 2", async () => {
  const [r] = await enqueueRanges(stack.sql, {
    datasets: ["blocks"],
    from: 0,
    to: 10,
    size: 10,
    org: "00000000-0000-0000-0000-00000000401a",
  });
  const before = await getTask(stack.sql, r!.taskId);
  const { out, exited } = stack.spawnWorker({ TRACE_WORKER_TOKEN: "not-the-dispatcher's-token" });
  const code = await exited;
  const { stdout, stderr } = out;
  assert.equal(code, 2, stderr);
  assert.match(stderr, /rejected this worker's token \(401\).*TRACE_WORKER_TOKEN/);
  assert.ok(stdout.includes('"event":"worker.unauthorized"'), stdout);

  // The wake-up is back in the queue, available now, not dead-lettered; the task never ran.
  const [msg] = await stack.sql<{ deliveries: number; due: boolean }[]>`
    SELECT deliveries, available_at <= now() AS due FROM state.queue_messages
     WHERE payload->>'task_id' = ${r!.taskId}`;
  assert.ok(msg, "the wake-up is still queued");
  assert.equal(msg.due, true);
  assert.ok(msg.deliveries <= 1, `deliveries ${msg.deliveries}`);
  const [dead] = await stack.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM state.queue_dead_letters WHERE payload->>'task_id' = ${r!.taskId}`;
  assert.equal(dead?.n, 0);
  const task = await getTask(stack.sql, r!.taskId);
  assert.deepEqual(
    { status: task?.status, attempt: task?.attempt },
    { status: before?.status, attempt: before?.attempt },
  );
});

test("a worker process with an unknown TRACE_MEMORY exits 2 before it claims anything", async () => {
  const { out, exited } = stack.spawnWorker({ TRACE_MEMORY: "huge" });
  assert.equal(await exited, 2, out.stderr);
  assert.match(
    out.stderr,
    /worker failed to start: invalid TRACE_MEMORY "huge": expected "lean" \(the default\) or "v8"/,
  );
  assert.equal(out.stdout, "", "no worker was started");
});

test("a worker process whose object store it cannot write to exits 2 before it claims anything", {
  skip: existsSync("/proc/self") ? false : "no procfs",
}, async () => {
  // A folder that cannot be created (procfs refuses it): every task would fail fatally.
  const { out, exited } = stack.spawnWorker({ TRACE_OBJECT_STORE: "/proc/trace-no-such/objects" });
  assert.equal(await exited, 2, out.stderr);
  assert.match(
    out.stderr,
    /worker failed to start: the object store file:\/\/\/proc\/trace-no-such\/objects\/ is not writable by this worker: .*mkdir '\/proc\/trace-no-such'/,
  );
});
