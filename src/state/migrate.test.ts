import assert from "node:assert/strict";
import { test } from "node:test";
import { testDatabase } from "../../test/support/postgres.ts";
import { connect } from "./connect.ts";
import { loadMigrations, migrate } from "./migrate.ts";

// Created at module level: testDatabase() registers its cleanup with after(), which inside a
// test would run (and stop a private server) as soon as that test ends.
const [fresh, concurrent, edited] = await Promise.all([
  testDatabase("migrate"),
  testDatabase("migrate_conc"),
  testDatabase("migrate_sum"),
]);

test("a fresh database gets every table and every named index; re-running is a no-op", async () => {
  const db = fresh;
  const first = await migrate(db.url);
  assert.deepEqual(
    first.applied,
    loadMigrations().map((m) => m.name),
  );
  const second = await migrate(db.url);
  assert.deepEqual(second.applied, []);

  const sql = connect(db.url, { max: 1 });
  try {
    const tables = await sql<{ t: string }[]>`
      SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
       WHERE table_schema IN ('state', 'data') ORDER BY 1`;
    // Later migrations (e.g. chain_sync's) add tables; these must always be there.
    const present = new Set(tables.map((r) => r.t));
    for (const t of [
      "data.query_audit",
      "state.dataset_versions",
      "state.outbox",
      "state.queue_dead_letters",
      "state.queue_messages",
      "state.schema_migrations",
      "state.task_events",
      "state.tasks",
    ]) {
      assert.ok(present.has(t), `missing table ${t}`);
    }
    // trace-rust §9.12: colliding index names were silently skipped there. Every index the
    // queries rely on must exist under its own name on a fresh database.
    const indexes = new Set(
      (
        await sql<{ i: string }[]>`
          SELECT schemaname || '.' || indexname AS i FROM pg_indexes
           WHERE schemaname IN ('state', 'data')`
      ).map((r) => r.i),
    );
    for (const name of [
      "state.tasks_pkey",
      "state.tasks_running_lease_idx",
      "state.tasks_retry_due_idx",
      "state.tasks_status_updated_idx",
      "state.task_events_task_at_idx",
      "state.dataset_versions_pkey",
      "state.dataset_versions_determinism_key",
      "state.dataset_versions_created_idx",
      "state.outbox_pkey",
      "state.outbox_pending_idx",
      "state.queue_messages_pkey",
      "state.queue_messages_ready_idx",
      "state.queue_messages_invisible_idx",
      "state.queue_dead_letters_queue_idx",
      "data.query_audit_pkey",
      "data.query_audit_org_created_idx",
      "data.query_audit_task_created_idx",
      "data.query_audit_subject_created_idx",
      // chain_sync (§9.12 named exactly these tables as the ones left without their indexes).
      "state.chain_sync_jobs_pkey",
      "state.chain_sync_jobs_org_name_key",
      "state.chain_sync_jobs_enabled_idx",
      "state.chain_sync_streams_pkey",
      "state.chain_sync_streams_dataset_uuid_key",
      "state.chain_sync_cursor_pkey",
      "state.chain_sync_scheduled_ranges_pkey",
      "state.chain_sync_scheduled_ranges_task_key",
      "state.chain_sync_scheduled_ranges_status_idx",
      "state.chain_sync_scheduled_ranges_completed_idx",
      "state.chain_sync_scheduled_ranges_failed_idx",
      "state.chain_head_observations_pkey",
    ]) {
      assert.ok(indexes.has(name), `missing index ${name}`);
    }

    // The hot background and planner queries can be served by an index (with sequential scans
    // disabled, a plan without an index scan would mean no usable index exists).
    await sql.begin(async (tx) => {
      await tx`SET LOCAL enable_seqscan = off`;
      const probes: [string, string][] = [
        [
          "lease reaper",
          "SELECT task_id FROM state.tasks WHERE status = 'running' AND lease_expires_at < now() ORDER BY lease_expires_at LIMIT 50",
        ],
        [
          "retry scheduler",
          "SELECT task_id FROM state.tasks WHERE status = 'queued' AND next_retry_at <= now() ORDER BY next_retry_at LIMIT 50",
        ],
        [
          "outbox drain",
          "SELECT outbox_id FROM state.outbox WHERE status = 'pending' AND available_at <= now() ORDER BY available_at, created_at LIMIT 50",
        ],
        [
          "queue receive",
          "SELECT message_id FROM state.queue_messages WHERE queue_name = 'q' AND available_at <= now() ORDER BY available_at, created_at LIMIT 10",
        ],
        [
          "task status view",
          "SELECT task_id FROM state.tasks WHERE status = 'failed' ORDER BY updated_at DESC LIMIT 100",
        ],
        [
          "task events",
          "SELECT * FROM state.task_events WHERE task_id = '00000000-0000-0000-0000-000000000001' ORDER BY at, event_id",
        ],
        [
          "registry determinism key",
          "SELECT * FROM state.dataset_versions WHERE dataset_uuid = '00000000-0000-0000-0000-000000000001' AND config_hash = 'x' AND range_start = 0 AND range_end = 1",
        ],
        [
          "planner in-flight count",
          "SELECT count(*) FROM state.chain_sync_scheduled_ranges WHERE job_id = '00000000-0000-0000-0000-000000000001' AND dataset_key = 'blocks' AND status = 'scheduled'",
        ],
        [
          "range completion hook",
          "SELECT * FROM state.chain_sync_scheduled_ranges WHERE task_id = '00000000-0000-0000-0000-000000000001'",
        ],
        [
          "head observation",
          "SELECT head_block FROM state.chain_head_observations WHERE org_id = '00000000-0000-0000-0000-000000000001' AND chain_id = 1 AND rpc_pool = 'main'",
        ],
      ];
      for (const [what, query] of probes) {
        // Fixed test queries, no input.
        const plan = (await tx.unsafe<{ "QUERY PLAN": string }[]>(`EXPLAIN ${query}`))
          .map((r) => r["QUERY PLAN"])
          .join("\n");
        assert.match(
          plan,
          /Index (Only )?Scan|Bitmap Index Scan/,
          `${what} has no index:\n${plan}`,
        );
      }
    });
  } finally {
    await sql.end();
  }
});

test("several processes migrating at once apply each migration exactly once", async () => {
  const db = concurrent;
  const clients = Array.from({ length: 6 }, () => connect(db.url, { max: 1 }));
  try {
    const results = await Promise.all(clients.map((c) => migrate(c)));
    const applied = results.flatMap((r) => r.applied);
    assert.deepEqual(
      applied.sort(),
      loadMigrations()
        .map((m) => m.name)
        .sort(),
    );
    const [row] = await clients[0]!<{ n: number }[]>`
      SELECT count(*)::int AS n FROM state.schema_migrations`;
    assert.equal(row!.n, loadMigrations().length);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
});

test("an applied migration whose file changed is refused", async () => {
  const db = edited;
  await migrate(db.url);
  const sql = connect(db.url, { max: 1 });
  try {
    await sql`UPDATE state.schema_migrations SET checksum = 'x' WHERE version = '0001'`;
    await assert.rejects(migrate(sql), /changed after it was applied/);
  } finally {
    await sql.end();
  }
});
