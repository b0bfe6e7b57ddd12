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
    ]) {
      assert.ok(indexes.has(name), `missing index ${name}`);
    }
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
