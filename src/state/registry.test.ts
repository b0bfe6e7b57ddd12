import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { testDatabase } from "../../test/support/postgres.ts";
import type { DatasetPublication } from "../core/types.ts";
import { connect, type Sql } from "./connect.ts";
import { migrate } from "./migrate.ts";
import { drainOutboxOnce, insertOutbox } from "./outbox.ts";
import { PgQueue } from "./pgqueue.ts";
import {
  DatasetVersionConflictError,
  listDatasetVersions,
  registerDatasetVersion,
} from "./registry.ts";

const db = await testDatabase("registry");
let sql: Sql;
before(async () => {
  sql = connect(db.url, { max: 8 });
  await migrate(sql);
});
after(async () => {
  await sql.end();
});

function publication(overrides: Partial<DatasetPublication> = {}): DatasetPublication {
  return {
    dataset_uuid: randomUUID(),
    dataset_version: randomUUID(),
    storage_ref: { scheme: "s3", bucket: "b", prefix: "cryo/1/x/0_10/v/", glob: "*.parquet" },
    config_hash: "cryo_ingest.blocks:v1",
    range_start: 0,
    range_end: 10,
    ...overrides,
  };
}

test("registration is idempotent for identical metadata and lists what is published", async () => {
  const p = publication();
  const first = await sql.begin((tx) => registerDatasetVersion(tx, p, { chainId: 1 }));
  assert.equal(first.created, true);
  // glob defaulted vs explicit is the same ref.
  const { glob: _omit, ...refWithoutGlob } = p.storage_ref;
  const again = await sql.begin((tx) =>
    registerDatasetVersion(tx, { ...p, storage_ref: refWithoutGlob as never }, { chainId: 1 }),
  );
  assert.equal(again.created, false);
  const rows = await listDatasetVersions(sql, { datasetUuids: [p.dataset_uuid] });
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.dataset_version, p.dataset_version);
  assert.equal(rows[0]!.chain_id, 1);
  assert.equal(rows[0]!.range_end, 10);
  assert.deepEqual(rows[0]!.storage_ref, p.storage_ref);
  assert.deepEqual(await listDatasetVersions(sql, { datasetUuids: [] }), []);
  assert.ok((await listDatasetVersions(sql)).some((r) => r.dataset_version === p.dataset_version));
});

test("divergent registrations are conflicts, never silent (incl. the reference's 500 case)", async () => {
  const p = publication();
  await sql.begin((tx) => registerDatasetVersion(tx, p));
  const divergent: DatasetPublication[] = [
    { ...p, storage_ref: { ...p.storage_ref, prefix: "elsewhere/" } },
    { ...p, config_hash: "other" },
    { ...p, range_end: 11 },
    // Same (uuid, config, range) under another version id: trace-rust §9.10 returned 500.
    { ...p, dataset_version: randomUUID() },
  ];
  for (const d of divergent) {
    await assert.rejects(
      sql.begin((tx) => registerDatasetVersion(tx, d)),
      DatasetVersionConflictError,
    );
  }
  assert.equal((await listDatasetVersions(sql, { datasetUuids: [p.dataset_uuid] })).length, 1);
});

test("concurrent identical registrations leave exactly one row", async () => {
  const p = publication();
  const results = await Promise.all(
    Array.from({ length: 8 }, () => sql.begin((tx) => registerDatasetVersion(tx, p))),
  );
  assert.equal(results.filter((r) => r.created).length, 1);
  assert.equal((await listDatasetVersions(sql, { datasetUuids: [p.dataset_uuid] })).length, 1);
});

test("malformed publications and filters are rejected with a clear error", async () => {
  await assert.rejects(
    sql.begin((tx) => registerDatasetVersion(tx, publication({ range_end: 0 }))),
    /publication is malformed/,
  );
  await assert.rejects(listDatasetVersions(sql, { datasetUuids: ["nope"] }), /UUID/);
});

test("outbox drain publishes each due row once, with the outbox id as message id", async () => {
  const q = new PgQueue(sql);
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  await sql.begin(async (tx) => {
    for (const id of ids)
      await insertOutbox(tx, { outboxId: id, topic: "t_outbox", payload: { id } });
    // Repeats of a deterministic id are no-ops.
    assert.equal(
      await insertOutbox(tx, { outboxId: ids[0]!, topic: "t_outbox", payload: {} }),
      false,
    );
    await insertOutbox(tx, {
      outboxId: randomUUID(),
      topic: "t_outbox",
      payload: {},
      delayMs: 3_600_000,
    });
  });
  // Concurrent drains take disjoint rows.
  const results = await Promise.all([drainOutboxOnce(sql, q), drainOutboxOnce(sql, q)]);
  assert.equal(
    results.reduce((n, r) => n + r.sent, 0),
    3,
  );
  assert.equal((await drainOutboxOnce(sql, q)).sent, 0);
  const msgs = await q.receive<{ id: string }>("t_outbox", { max: 10, visibilityMs: 60_000 });
  assert.deepEqual(msgs.map((m) => m.messageId).sort(), [...ids].sort());
  assert.ok(msgs.every((m) => m.payload.id === m.messageId));
});

test("a fresh client's first, concurrent lookups by uuid list work (typed array parameters)", async () => {
  const pub = publication();
  await registerDatasetVersion(sql, pub);
  // A cold client: postgres.js has not fetched the server's array types on these connections
  // yet; an untyped array parameter would be sent as a scalar ("malformed array literal").
  const cold = connect(db.url, { max: 4 });
  try {
    const lists = await Promise.all(
      [0, 1, 2, 3].map(() => listDatasetVersions(cold, { datasetUuids: [pub.dataset_uuid] })),
    );
    for (const rows of lists)
      assert.deepEqual(
        rows.map((r) => r.dataset_version),
        [pub.dataset_version],
      );
  } finally {
    await cold.end();
  }
});
