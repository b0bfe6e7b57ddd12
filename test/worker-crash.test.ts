/**
 * SIGKILL a real worker process while it is uploading a multipart object: the lease expires,
 * the next worker start aborts the killed attempt's incomplete upload, a new attempt completes,
 * exactly one version is registered, and no object outside the final version prefix remains.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { type Devnet, startDevnet } from "../src/devnet/server.ts";
import { eventually } from "../src/dispatcher/testkit.ts";
import { getTask, listTaskEvents } from "../src/state/index.ts";
import {
  CHAIN_ID,
  enqueueRanges,
  manifestAndListing,
  type Stack,
  startStack,
  versionsOf,
} from "../src/worker/testing/stack.ts";
import { startStallProxy } from "../src/worker/testing/stall-proxy.ts";

// A lease short enough that the killed attempt expires soon, long enough that a loaded 2-core
// machine does not lose it before the upload starts (1.5 s did: the wait below timed out).
const stack: Stack = await startStack({ label: "worker_crash", leaseMs: 4_000, reaperMs: 50 });
// Mainnet-sized logs, so one range's file is far larger than a 5 MiB multipart part.
const heavy: Devnet = await startDevnet({
  chain: {
    seed: "worker-crash",
    chainId: CHAIN_ID,
    length: 2_000,
    txsPerBlock: 100,
    logsPerBlock: 300,
  },
});
const proxy = await startStallProxy(heavy.url);
after(async () => {
  await proxy.close();
  await heavy.stop();
});

test("a worker SIGKILLed mid-upload: lease expires, next start aborts its upload, one version, nothing stray", async () => {
  const [r] = await enqueueRanges(stack.sql, {
    datasets: ["logs"],
    from: 0,
    to: 1_000,
    size: 1_000,
    pool: "heavy",
  });
  const { proc: child, out, exited } = stack.spawnWorker({ TRACE_RPC_POOL_HEAVY_URL: proxy.url });
  // The child's last log events, for the failure message (what was it doing?).
  const childEvents = () => [...out.stdout.matchAll(/"event":"([^"]+)"/g)].map((m) => m[1]);
  const prefix = `cryo/${CHAIN_ID}/${r!.payload.dataset_uuid}/`;
  // Wait for the multipart upload to be under way, freeze the chain, then kill the worker.
  // Generous: on a loaded 2-core machine the extraction up to the first 5 MiB part is slow.
  const [upload] = await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`worker exited early: ${out.stderr}`);
      const pending = await stack.store.listIncomplete(prefix);
      return pending.length > 0 ? pending : undefined;
    },
    180_000,
    "a multipart upload in progress",
  ).catch(async (err) => {
    const t = await getTask(stack.sql, r!.taskId);
    throw new Error(
      `${err.message}; task ${t?.status} attempt ${t?.attempt} (${t?.last_error_category ?? "-"}); worker events: ${childEvents().slice(-15).join(", ")}`,
    );
  });
  proxy.stall();
  child.kill("SIGKILL");
  await exited;
  proxy.release();
  const claimed = await getTask(stack.sql, r!.taskId);
  assert.equal(claimed?.attempt, 1);
  assert.ok(await stack.store.listIncomplete(prefix).then((l) => l.length > 0));

  // The lease runs out; the reaper schedules attempt 2.
  await eventually(
    async () => (await getTask(stack.sql, r!.taskId))?.attempt === 2,
    20_000,
    "lease expiry",
  );
  const next = stack.worker({
    staleUploadTtlMs: 0,
    env: { ...stack.env, TRACE_RPC_POOL_HEAVY_URL: heavy.url },
  });
  const cleanup = await next.start();
  assert.ok(cleanup.uploadsAborted.some((k) => k === upload!.key));
  const done = await eventually(
    async () => {
      const t = await getTask(stack.sql, r!.taskId);
      return t?.status === "completed" || t?.status === "failed" ? t : undefined;
    },
    60_000,
    "attempt 2",
  );
  assert.equal(done.status, "completed", done.last_error_message ?? "");
  // Attempt 2 or later: with a short lease (so that attempt 1 expires quickly) a loaded machine
  // can delay a heartbeat past the lease and cost one more attempt; what matters is that a later
  // attempt completes exactly once.
  assert.ok(done.attempt >= 2, `completed by attempt ${done.attempt}`);
  const events = await listTaskEvents(stack.sql, r!.taskId);
  assert.equal(events.filter((e) => e.event === "completed").length, 1);

  const versions = await versionsOf(stack.sql, [r!]);
  assert.equal(versions.length, 1);
  const { read, listed, prefix: versionPrefix } = await manifestAndListing(stack, versions[0]!);
  assert.ok(read.objects.length >= 1);
  // Everything in the bucket belongs to the final version prefix and is listed in its manifest.
  const everything = await stack.store.list("");
  assert.deepEqual(
    everything.map((o) => o.key),
    listed.map((o) => o.key),
  );
  assert.deepEqual(
    listed.map((o) => o.key.slice(versionPrefix.length)).filter((n) => n !== "_manifest.json"),
    read.objects.map((o) => o.name),
  );
  assert.deepEqual(await stack.store.listIncomplete(""), []);
});
