import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ChainSyncAdminError } from "../src/chain-sync/client.ts";
import { planTaskId } from "../src/core/ids.ts";
import {
  ADMIN_TOKEN,
  cursorOf,
  fixedYaml,
  publish,
  rangesOf,
  type Stack,
  startStack,
  tableCounts,
} from "./chain-sync-kit.ts";
import { testDatabase } from "./support/postgres.ts";

const db = await testDatabase("chain_sync_apply");
let stack: Stack;
let sharedSql: Stack["sql"] | undefined;

before(async () => {
  stack = await startStack(db.url);
});
after(async () => {
  await stack.stop();
  await sharedSql?.end({ timeout: 5 });
});

async function rejected(p: Promise<unknown>, status: number, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ChainSyncAdminError, String(err));
    assert.equal(err.status, status, err.message);
    assert.match(err.message, message);
    return true;
  });
}

describe("apply", () => {
  test("applying the same YAML twice creates no duplicate job, range or task", async () => {
    const yaml = fixedYaml({
      name: "twice",
      chainId: 10,
      to: 1000,
      streams: { blocks: { inflight: 3 }, logs: { inflight: 3, pool: "logs_pool" } },
    });
    const first = await stack.admin.apply(yaml);
    assert.equal(first.created, true);
    assert.equal(first.changed, true);
    assert.equal((await stack.dispatcher.planOnce()).scheduled, 6);
    const before = await tableCounts(stack.sql);

    const second = await stack.admin.apply(yaml);
    assert.equal(second.job_id, first.job_id);
    assert.equal(second.created, false);
    assert.equal(second.changed, false);
    assert.deepEqual(second.changes, []);
    // Concurrent applies of the same spec serialise on the job row.
    const concurrent = await Promise.all([1, 2, 3].map(() => stack.admin.apply(yaml)));
    for (const r of concurrent) assert.equal(r.job_id, first.job_id);
    assert.equal((await stack.dispatcher.planOnce()).scheduled, 0, "slots are full");
    assert.deepEqual(await tableCounts(stack.sql), before);

    const ranges = await rangesOf(stack.sql, first.job_id);
    assert.deepEqual(
      ranges.map((r) => `${r.dataset_key}:${r.range_start}-${r.range_end}`),
      [
        "blocks:0-100",
        "blocks:100-200",
        "blocks:200-300",
        "logs:0-100",
        "logs:100-200",
        "logs:200-300",
      ],
    );
    for (const r of ranges) {
      assert.equal(r.task_id, planTaskId(first.job_id, r.dataset_key, r.range_start, r.range_end));
    }
  });

  test("concurrent first applies of a new job create it once", async () => {
    const yaml = fixedYaml({
      name: "race",
      chainId: 12,
      to: 300,
      streams: { blocks: { inflight: 2 }, logs: { inflight: 2 } },
    });
    const results = await Promise.all([1, 2, 3, 4].map(() => stack.admin.apply(yaml)));
    assert.equal(new Set(results.map((r) => r.job_id)).size, 1);
    assert.equal(results.filter((r) => r.created).length, 1, "exactly one apply created it");
    for (const r of results.filter((x) => !x.created)) assert.equal(r.changed, false);
    const [counts] = await stack.sql<{ jobs: number; streams: number; cursors: number }[]>`
      SELECT (SELECT count(*)::int FROM state.chain_sync_jobs WHERE name = 'race') AS jobs,
             (SELECT count(*)::int FROM state.chain_sync_streams WHERE job_id = ${results[0]!.job_id}) AS streams,
             (SELECT count(*)::int FROM state.chain_sync_cursor WHERE job_id = ${results[0]!.job_id}) AS cursors`;
    assert.deepEqual({ ...counts }, { jobs: 1, streams: 2, cursors: 2 });
  });

  test("re-planning after a restart creates no duplicate ranges and continues from the cursor", async () => {
    const { job_id } = await stack.admin.apply(
      fixedYaml({ name: "restart", chainId: 11, to: 500, streams: { blocks: { inflight: 2 } } }),
    );
    await stack.dispatcher.planOnce();
    const planned = await rangesOf(stack.sql, job_id);
    assert.equal(planned.length, 2);

    // A second dispatcher process on the same state, as after a restart.
    sharedSql = stack.sql;
    await stack.dispatcher.stop();
    stack = await startStack(db.url, {}, sharedSql);
    await stack.dispatcher.planOnce();
    assert.deepEqual(await rangesOf(stack.sql, job_id), planned, "nothing re-planned");
    assert.equal(await cursorOf(stack.sql, job_id, "blocks"), 200);

    await publish(stack.worker, planned[0]!.task_id);
    await stack.dispatcher.planOnce();
    const after = await rangesOf(stack.sql, job_id);
    assert.deepEqual(
      after.map((r) => [r.range_start, r.range_end, r.status]),
      [
        [0, 100, "completed"],
        [100, 200, "scheduled"],
        [200, 300, "scheduled"],
      ],
    );
    assert.equal(await cursorOf(stack.sql, job_id, "blocks"), 300);
  });

  test("the admin API refuses missing and wrong tokens before reading the body", async () => {
    const counts = await tableCounts(stack.sql);
    const body = fixedYaml({ name: "unauth", to: 10, streams: { blocks: {} } });
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong-token-0123456789" },
      { authorization: ADMIN_TOKEN },
    ];
    for (const headers of attempts) {
      const res = await fetch(`${stack.url}/admin/chain-sync/apply`, {
        method: "POST",
        headers: { "content-type": "application/yaml", ...headers },
        body,
      });
      assert.equal(res.status, 401);
      assert.match(((await res.json()) as { error: string }).error, /admin token/);
    }
    const list = await fetch(`${stack.url}/admin/chain-sync/jobs`);
    assert.equal(list.status, 401);
    assert.deepEqual(await tableCounts(stack.sql), counts);
  });
});

describe("re-apply rules", () => {
  const base = {
    name: "rules",
    chainId: 20,
    from: 100,
    to: 1000,
    streams: { blocks: { inflight: 2 }, logs: { inflight: 1 } } as Record<
      string,
      { dataset?: string; inflight?: number; pool?: string }
    >,
  };
  let jobId: string;

  before(async () => {
    jobId = (await stack.admin.apply(fixedYaml(base))).job_id;
    await stack.dispatcher.planOnce(); // blocks cursor 300, logs cursor 200
  });

  async function snapshot() {
    const [job] = await stack.sql`SELECT * FROM state.chain_sync_jobs WHERE job_id = ${jobId}`;
    const streams =
      await stack.sql`SELECT * FROM state.chain_sync_streams WHERE job_id = ${jobId} ORDER BY dataset_key`;
    const cursors =
      await stack.sql`SELECT * FROM state.chain_sync_cursor WHERE job_id = ${jobId} ORDER BY dataset_key`;
    return { job, streams, cursors, counts: await tableCounts(stack.sql) };
  }

  test("changes that would corrupt planned work are rejected and write nothing", async () => {
    const before = await snapshot();
    await rejected(
      stack.admin.apply(fixedYaml({ ...base, chainId: 21 })),
      409,
      /chain_id: cannot change from 20 to 21/,
    );
    await rejected(
      stack.admin.apply(
        fixedYaml({ ...base, streams: { ...base.streams, logs: { dataset: "transactions" } } }),
      ),
      409,
      /streams\.logs\.cryo_dataset_name: cannot change from logs to transactions/,
    );
    await rejected(
      stack.admin.apply(fixedYaml({ ...base, to: 250 })),
      409,
      /to_block: 250 is below stream blocks's cursor 300/,
    );
    await rejected(
      stack.admin.apply(fixedYaml({ ...base, from: 50 })),
      409,
      /from_block: cannot be lowered from 100 to 50/,
    );
    // Another job may not take over a dataset this job owns (same org, chain and dataset_key).
    await rejected(
      stack.admin.apply(fixedYaml({ ...base, name: "thief", streams: { logs: {} } })),
      409,
      /streams\.logs: dataset logs of chain 20 is already synced by job 'rules'/,
    );
    assert.deepEqual(await snapshot(), before);
  });

  test("allowed changes are applied, reported, and never move a cursor backwards", async () => {
    await stack.admin.pause("rules");
    // to_block shrinks to exactly the highest cursor, logs is removed, traces is added,
    // blocks moves to another pool.
    const r = await stack.admin.apply(
      fixedYaml({
        ...base,
        to: 300,
        streams: { blocks: { inflight: 2, pool: "archive" }, traces: { inflight: 1 } },
      }),
    );
    assert.equal(r.changed, true);
    assert.deepEqual(r.changes, [
      "mode.to_block 1000 → 300",
      "stream blocks rpc_pool default → archive for new ranges",
      "stream traces added, planned from block 100",
      "stream logs removed: no new ranges; in-flight ranges finish, versions stay",
    ]);
    let status = await stack.admin.status("rules");
    assert.equal(status.enabled, false, "re-apply keeps the pause state");
    assert.deepEqual(
      status.streams.map((s) => [s.dataset_key, s.active, s.cursor, s.rpc_pool]),
      [
        ["blocks", true, 300, "archive"],
        ["logs", false, 200, "default"],
        ["traces", true, 100, "default"],
      ],
    );
    await stack.admin.resume("rules");
    await stack.dispatcher.planOnce();
    assert.equal(await cursorOf(stack.sql, jobId, "logs"), 200, "removed stream is not planned");
    assert.equal(await cursorOf(stack.sql, jobId, "traces"), 200);

    // Raising from_block moves cursors behind it forward and says which blocks are skipped;
    // re-adding logs resumes it from its cursor.
    const raised = await stack.admin.apply(
      fixedYaml({
        ...base,
        from: 250,
        to: 600,
        streams: {
          blocks: { inflight: 2, pool: "archive" },
          logs: { inflight: 1 },
          traces: { inflight: 1 },
        },
      }),
    );
    assert.ok(
      raised.changes.includes("stream logs re-activated at its cursor 200"),
      raised.changes.join("\n"),
    );
    assert.ok(
      raised.changes.includes("stream logs cursor 200 → 250: blocks [200, 250) will not be synced"),
    );
    assert.equal(await cursorOf(stack.sql, jobId, "blocks"), 300);
    assert.equal(await cursorOf(stack.sql, jobId, "logs"), 250);
    status = await stack.admin.status("rules");
    assert.equal(status.to_block, 600);
    assert.equal(status.from_block, 250);

    // The database refuses a backwards cursor whoever tries.
    await assert.rejects(
      stack.sql`UPDATE state.chain_sync_cursor SET next_block = 0 WHERE job_id = ${jobId} AND dataset_key = 'blocks'`,
      /cannot move backwards/,
    );
  });

  test("switching mode keeps cursors", async () => {
    const r = await stack.admin.apply(
      [
        "kind: chain_sync",
        "name: rules",
        "chain_id: 20",
        "mode: { kind: follow_head, from_block: 250, tail_lag: 3, head_poll_interval_seconds: 2, max_head_age_seconds: 30 }",
        "streams:",
        "  blocks: { cryo_dataset_name: blocks, rpc_pool: archive, chunk_size: 100, max_inflight: 2 }",
      ].join("\n"),
    );
    assert.ok(r.changes.includes("mode fixed_target → follow_head (cursors kept)"));
    assert.equal(await cursorOf(stack.sql, jobId, "blocks"), 300);
    const status = await stack.admin.status("rules");
    assert.equal(status.mode, "follow_head");
    assert.equal(status.to_block, null);
    assert.equal(status.tail_lag, 3);
  });

  test("unknown jobs are a 404 for every job command", async () => {
    await rejected(stack.admin.status("nope"), 404, /chain_sync job not found: nope/);
    await rejected(stack.admin.pause("nope"), 404, /not found/);
    await rejected(stack.admin.resume("nope"), 404, /not found/);
    await rejected(stack.admin.retryFailed("nope"), 404, /not found/);
  });
});
