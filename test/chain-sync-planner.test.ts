import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { chainSyncDatasetGrants, listChainSyncDatasets } from "../src/chain-sync/grants.ts";
import { chainSyncHooks } from "../src/chain-sync/hooks.ts";
import { cryoConfigHash, DEFAULT_ORG_ID, datasetUuid } from "../src/core/ids.ts";
import { verifyCapabilityToken } from "../src/core/tokens.ts";
import type { CryoIngestPayload } from "../src/core/types.ts";
import { type LifecycleConfig, reapExpiredLeases } from "../src/dispatcher/lifecycle.ts";
import { eventually, publicationFor, TEST_CAPABILITY } from "../src/dispatcher/testkit.ts";
import { connect, getTask } from "../src/state/index.ts";
import {
  claim,
  cursorOf,
  failFatally,
  fixedYaml,
  followYaml,
  publish,
  rangesOf,
  type Stack,
  startStack,
} from "./chain-sync-kit.ts";
import { testDatabase } from "./support/postgres.ts";

const db = await testDatabase("chain_sync_planner");
let stack: Stack;
let second: Stack;

before(async () => {
  stack = await startStack(db.url);
  second = await startStack(db.url);
});
after(async () => {
  await second.stop();
  await stack.stop();
});

const scheduled = async (jobId: string, key?: string) =>
  (await rangesOf(stack.sql, jobId, key)).filter((r) => r.status === "scheduled");

describe("planner", () => {
  test("respects max_inflight per stream; streams with different pools plan independently", async () => {
    const { job_id } = await stack.admin.apply(
      fixedYaml({
        name: "two_pools",
        chainId: 5,
        to: 1000,
        streams: {
          blocks: { pool: "fast", chunk: 100, inflight: 2 },
          logs: { pool: "archive", chunk: 250, inflight: 3 },
        },
      }),
    );
    assert.equal((await stack.dispatcher.planOnce()).scheduled, 5);
    assert.equal((await stack.dispatcher.planOnce()).scheduled, 0, "all slots taken");
    assert.deepEqual(
      (await scheduled(job_id, "blocks")).map((r) => [r.range_start, r.range_end]),
      [
        [0, 100],
        [100, 200],
      ],
    );
    const logs = await scheduled(job_id, "logs");
    assert.deepEqual(
      logs.map((r) => [r.range_start, r.range_end]),
      [
        [0, 250],
        [250, 500],
        [500, 750],
      ],
    );

    // The payload carries the stream's own pool, dataset and config; the token its own grants.
    const c = await claim(stack.worker, logs[0]!.task_id);
    const payload = c.work_payload as CryoIngestPayload;
    assert.deepEqual(payload, {
      operator: "cryo_ingest",
      chain_id: 5,
      dataset_key: "logs",
      dataset_uuid: datasetUuid(DEFAULT_ORG_ID, 5, "logs"),
      cryo_dataset_name: "logs",
      rpc_pool: "archive",
      range_start: 0,
      range_end: 250,
      config_hash: cryoConfigHash("logs"),
    });
    const claims = await verifyCapabilityToken(TEST_CAPABILITY, c.capability_token);
    assert.deepEqual(claims.datasets, [{ dataset_uuid: payload.dataset_uuid, name: "logs" }]);
    assert.equal(claims.s3.write_prefixes.length, 1);
    assert.match(
      claims.s3.write_prefixes[0]!,
      new RegExp(`^cryo/5/${payload.dataset_uuid}/0_250/`),
    );

    // Finishing a logs range frees a logs slot only.
    const r = await stack.worker.complete(c, {
      outcome: "success",
      datasets_published: [publicationFor(payload)],
    });
    assert.equal(r.status, 200);
    assert.equal((await stack.dispatcher.planOnce()).scheduled, 1);
    assert.deepEqual(
      (await scheduled(job_id, "logs")).map((x) => x.range_start),
      [250, 500, 750],
    );
    assert.equal((await scheduled(job_id, "blocks")).length, 2);
    assert.equal(await cursorOf(stack.sql, job_id, "logs"), 1000);
    assert.equal(await cursorOf(stack.sql, job_id, "blocks"), 200);
  });

  test("fixed_target completes exactly when the last range is published", async () => {
    const { job_id } = await stack.admin.apply(
      fixedYaml({
        name: "finish",
        chainId: 6,
        from: 0,
        to: 250,
        streams: { blocks: { chunk: 100, inflight: 2 } },
      }),
    );
    const published: [number, number][] = [];
    for (;;) {
      await stack.dispatcher.planOnce();
      const open = await scheduled(job_id);
      if (open.length === 0) break;
      const status = await stack.admin.status("finish");
      assert.equal(status.completed, false, `not complete with ${open.length} range(s) in flight`);
      await publish(stack.worker, open[0]!.task_id);
      published.push([open[0]!.range_start, open[0]!.range_end]);
    }
    assert.deepEqual(published, [
      [0, 100],
      [100, 200],
      [200, 250],
    ]);
    const status = await stack.admin.status("finish");
    assert.equal(status.completed, true);
    const [s] = status.streams;
    assert.equal(s!.cursor, 250);
    assert.equal(s!.target, 250);
    assert.deepEqual(s!.ranges, { scheduled: 0, completed: 3, failed: 0 });
    assert.equal(s!.blocks_completed, 250);
    assert.ok(s!.blocks_per_second > 0);
    assert.equal(s!.eta_seconds, 0);
    assert.equal(s!.last_error, null);

    // The query path can be granted what is published, with no fixture wired in.
    const datasets = await listChainSyncDatasets(stack.sql, DEFAULT_ORG_ID, { jobName: "finish" });
    assert.deepEqual(datasets, [
      {
        dataset_uuid: datasetUuid(DEFAULT_ORG_ID, 6, "blocks"),
        dataset_key: "blocks",
        cryo_dataset_name: "blocks",
        chain_id: 6,
        job_name: "finish",
        job_id,
        versions: 3,
        first_block: 0,
        end_block: 250,
      },
    ]);
    assert.deepEqual(
      await chainSyncDatasetGrants(stack.sql, DEFAULT_ORG_ID, { jobName: "finish" }),
      [{ dataset_uuid: datasetUuid(DEFAULT_ORG_ID, 6, "blocks"), name: "blocks" }],
    );
    const viaApi = await stack.admin.datasets();
    assert.ok(viaApi.some((d) => d.job_name === "finish" && d.versions === 3));
  });

  test("a fatally failing range does not block the others or hold a slot; status shows it; retry-failed re-queues it", async () => {
    const { job_id } = await stack.admin.apply(
      fixedYaml({
        name: "failing",
        chainId: 7,
        to: 400,
        streams: { blocks: { chunk: 100, inflight: 2 } },
      }),
    );
    await stack.dispatcher.planOnce();
    const [bad, good] = await scheduled(job_id);
    await failFatally(stack.worker, bad!.task_id, "cap_exceeded");
    assert.equal(
      (await stack.dispatcher.planOnce()).scheduled,
      1,
      "the failed range freed its slot",
    );
    // Drain everything else.
    for (;;) {
      await stack.dispatcher.planOnce();
      const open = await scheduled(job_id);
      if (open.length === 0) break;
      for (const r of open) await publish(stack.worker, r.task_id);
    }
    const ranges = await rangesOf(stack.sql, job_id);
    assert.deepEqual(
      ranges.map((r) => [r.range_start, r.status]),
      [
        [0, "failed"],
        [100, "completed"],
        [200, "completed"],
        [300, "completed"],
      ],
    );
    assert.equal(good!.range_start, 100);
    let status = await stack.admin.status("failing");
    const s = status.streams[0]!;
    assert.equal(status.completed, false, "a failed range keeps the job from completing");
    assert.equal(s.cursor, 400);
    assert.equal(s.inflight, 0);
    assert.deepEqual(s.ranges, { scheduled: 0, completed: 3, failed: 1 });
    assert.equal(s.last_error?.category, "cap_exceeded");
    assert.match(s.last_error!.message, /range \[0, 100\) failed: object larger than the cap/);
    assert.ok(Date.parse(s.last_error!.at) > 0);
    assert.equal(status.last_error?.category, "cap_exceeded");

    const retry = await stack.admin.retryFailed("failing");
    assert.deepEqual(
      retry.retried.map((r) => [r.dataset_key, r.range_start, r.range_end, r.task_id, r.attempt]),
      [["blocks", 0, 100, bad!.task_id, 2]],
    );
    const task = await getTask(stack.sql, bad!.task_id);
    assert.equal(task?.status, "queued");
    assert.equal(task?.attempt, 2);
    assert.equal(task?.max_attempts, 4, "a fresh cycle of 3 attempts");
    status = await stack.admin.status("failing");
    assert.deepEqual(status.streams[0]!.ranges, { scheduled: 1, completed: 3, failed: 0 });
    assert.equal(status.last_error, null, "the retried failure is no longer outstanding");
    assert.equal(
      (await stack.admin.retryFailed("failing")).retried.length,
      0,
      "nothing left to retry",
    );

    const c = await claim(stack.worker, bad!.task_id);
    assert.equal(c.attempt, 2);
    await stack.worker.complete(c, {
      outcome: "success",
      datasets_published: [publicationFor(c.work_payload)],
    });
    assert.equal((await stack.admin.status("failing")).completed, true);
  });

  test("a range holds its slot while its task retries, and fails for good once attempts are exhausted", async () => {
    const { job_id } = await stack.admin.apply(
      fixedYaml({
        name: "flaky",
        chainId: 12,
        to: 300,
        streams: { blocks: { chunk: 100, inflight: 1 } },
      }),
    );
    await stack.dispatcher.planOnce();
    const [range] = await scheduled(job_id);
    for (let attempt = 1; attempt <= 3; attempt++) {
      // The retry backoff of the test dispatcher is 10-20 ms; claim once it is due.
      const c = await eventually(async () => {
        const r = await stack.worker.claim(range!.task_id);
        return r.status === 200 ? r.body : undefined;
      });
      assert.equal(c.attempt, attempt);
      const r = await stack.worker.complete(c, {
        outcome: "retryable_error",
        error: { category: "rpc_timeout", message: "node timed out" },
      });
      assert.equal(r.body.status, attempt < 3 ? "queued" : "failed");
      if (attempt < 3) {
        assert.equal((await stack.dispatcher.planOnce()).scheduled, 0, "still holds the only slot");
      }
    }
    assert.equal((await rangesOf(stack.sql, job_id))[0]!.status, "failed");
    assert.equal((await stack.dispatcher.planOnce()).scheduled, 1, "the slot is free again");
    const s = (await stack.admin.status("flaky")).streams[0]!;
    assert.deepEqual(s.ranges, { scheduled: 1, completed: 0, failed: 1 });
    assert.equal(s.last_error?.category, "rpc_timeout");
  });

  test("pause stops new planning without touching in-flight work; resume continues from the cursor", async () => {
    const { job_id } = await stack.admin.apply(
      fixedYaml({
        name: "pausing",
        chainId: 8,
        to: 600,
        streams: { blocks: { chunk: 100, inflight: 2 } },
      }),
    );
    await stack.dispatcher.planOnce();
    const inflight = await scheduled(job_id);
    assert.equal(inflight.length, 2);

    const paused = await stack.admin.pause("pausing");
    assert.deepEqual([paused.enabled, paused.changed], [false, true]);
    assert.equal((await stack.admin.pause("pausing")).changed, false);
    // In-flight work still runs to completion while paused.
    await publish(stack.worker, inflight[0]!.task_id);
    await publish(stack.worker, inflight[1]!.task_id);
    assert.equal((await stack.dispatcher.planOnce()).scheduled, 0);
    assert.equal((await second.dispatcher.planOnce()).scheduled, 0);
    let status = await stack.admin.status("pausing");
    assert.equal(status.enabled, false);
    assert.deepEqual(status.streams[0]!.ranges, { scheduled: 0, completed: 2, failed: 0 });
    assert.equal(status.streams[0]!.cursor, 200);

    await stack.admin.resume("pausing");
    assert.equal((await stack.dispatcher.planOnce()).scheduled, 2);
    assert.deepEqual(
      (await scheduled(job_id)).map((r) => [r.range_start, r.range_end]),
      [
        [200, 300],
        [300, 400],
      ],
    );
    status = await stack.admin.status("pausing");
    assert.equal(status.enabled, true);
    assert.equal(status.streams[0]!.cursor, 400);
  });

  test("two dispatchers planning at once never duplicate a range or exceed max_inflight", async () => {
    const { job_id } = await stack.admin.apply(
      fixedYaml({
        name: "racing",
        chainId: 9,
        to: 5000,
        streams: { blocks: { chunk: 10, inflight: 7 }, logs: { chunk: 30, inflight: 4 } },
      }),
    );
    for (let round = 0; round < 4; round++) {
      await Promise.all([
        stack.dispatcher.planOnce(),
        second.dispatcher.planOnce(),
        stack.dispatcher.planOnce(),
        second.dispatcher.planOnce(),
      ]);
      assert.ok((await scheduled(job_id, "blocks")).length <= 7);
      assert.ok((await scheduled(job_id, "logs")).length <= 4);
      // Complete one range per stream between rounds, from alternating dispatchers.
      const worker = round % 2 === 0 ? stack.worker : second.worker;
      for (const key of ["blocks", "logs"]) {
        const [first] = await scheduled(job_id, key);
        if (first) await publish(worker, first.task_id);
      }
    }
    for (const key of ["blocks", "logs"]) {
      const ranges = await rangesOf(stack.sql, job_id, key);
      // Contiguous from 0 to the cursor: no gap, no overlap, no duplicate.
      let expected = 0;
      for (const r of ranges) {
        assert.equal(r.range_start, expected, `${key} ranges contiguous`);
        expected = r.range_end;
      }
      assert.equal(await cursorOf(stack.sql, job_id, key), expected);
    }
    const [tasks] = await stack.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM state.tasks t
        JOIN state.chain_sync_scheduled_ranges r USING (task_id) WHERE r.job_id = ${job_id}`;
    assert.equal(tasks!.n, (await rangesOf(stack.sql, job_id)).length, "one task per range");
  });
  test("two dispatchers recording blocks on one job's streams at once never deadlock", async () => {
    // A follow_head job without any head observation: every stream is blocked, and each
    // stream's message differs (its own pool), so every planStream writes the job row too.
    const streams: Record<string, { pool: string }> = {};
    for (let i = 0; i < 24; i++) streams[`s${i}`] = { pool: `pool_${i}` };
    const { job_id } = await stack.admin.apply(
      followYaml({ name: "blocked_many", chainId: 13, tailLag: 0, streams }),
    );
    for (let round = 0; round < 3; round++) {
      await stack.sql`
        UPDATE state.chain_sync_streams
           SET last_error_kind = NULL, last_error_message = NULL, last_error_at = NULL
         WHERE job_id = ${job_id}`;
      await stack.sql`
        UPDATE state.chain_sync_jobs SET last_error_kind = NULL, last_error_message = NULL
         WHERE job_id = ${job_id}`;
      // (Other tests' jobs may still plan here; only this job's streams are checked.)
      await Promise.all([
        stack.dispatcher.planOnce(),
        second.dispatcher.planOnce(),
        stack.dispatcher.planOnce(),
        second.dispatcher.planOnce(),
      ]);
      const kinds = await stack.sql<{ last_error_kind: string | null }[]>`
        SELECT last_error_kind FROM state.chain_sync_streams WHERE job_id = ${job_id}`;
      assert.deepEqual(
        [...new Set(kinds.map((k) => k.last_error_kind))],
        ["missing_head_observation"],
        `round ${round}: every stream reports its real block, never a planner error`,
      );
    }
  });
  test("two lease reapers failing ranges of the same jobs at once never deadlock", async () => {
    // Two jobs whose expired ranges interleave in lease-expiry order: each reaper batch ends
    // ranges of both jobs, the way a mass worker crash looks to two dispatchers.
    const jobs = [];
    for (const name of ["reap_a", "reap_b"]) {
      jobs.push(
        await stack.admin.apply(
          fixedYaml({
            name,
            chainId: name === "reap_a" ? 14 : 15,
            to: 4000,
            streams: { blocks: { chunk: 100, inflight: 40 } },
          }),
        ),
      );
    }
    await stack.dispatcher.planOnce();
    const ids = jobs.map((j) => j.job_id);
    const tasks = await stack.sql<{ task_id: string; job_id: string; range_start: string }[]>`
      SELECT task_id, job_id, range_start FROM state.chain_sync_scheduled_ranges
       WHERE job_id = ANY(${stack.sql.array(ids)}::uuid[]) ORDER BY range_start, job_id`;
    assert.equal(tasks.length, 80);
    for (const t of tasks) await claim(stack.worker, t.task_id);
    // Last attempt, lease long gone. Expiry order: a[0,20), b[0,20), b[20,40), a[20,40), so
    // one reaper batch of 40 takes job a's rows first and then b's, the other b's then a's.
    await stack.sql`
      UPDATE state.tasks t
         SET max_attempts = 1,
             lease_expires_at = now() - interval '1 hour' + make_interval(secs => (
               CASE WHEN r.job_id = ${ids[0]!}
                    THEN CASE WHEN r.range_start < 2000 THEN r.range_start / 100
                              ELSE r.range_start / 100 + 40 END
                    ELSE CASE WHEN r.range_start < 2000 THEN r.range_start / 100 + 20
                              ELSE r.range_start / 100 + 20 END
               END)::int)
        FROM state.chain_sync_scheduled_ranges r
       WHERE r.task_id = t.task_id AND r.job_id = ANY(${stack.sql.array(ids)}::uuid[])`;
    const cfg: LifecycleConfig = {
      leaseMs: 60_000,
      retry: { baseMs: 10, maxMs: 20, jitter: 0 },
      hooks: chainSyncHooks,
      wakeupQueue: "task_wakeup",
    };
    const other = connect(stack.dbUrl, { max: 2 });
    try {
      await other`SELECT 1`; // connected before the race starts
      const reaped = await Promise.all([
        reapExpiredLeases(stack.sql, cfg, 40),
        reapExpiredLeases(other, cfg, 40),
      ]);
      assert.equal(reaped[0] + reaped[1], 80);
    } finally {
      await other.end();
    }
    for (const name of ["reap_a", "reap_b"]) {
      const s = (await stack.admin.status(name)).streams[0]!;
      assert.deepEqual(s.ranges, { scheduled: 0, completed: 0, failed: 40 }, name);
      assert.equal(s.last_error?.category, "lease_expired", name);
    }
  });
});
