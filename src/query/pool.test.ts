import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { QueryError } from "./errors.ts";
import { DatabasePool, destroyDatabase, type FreshDatabase } from "./pool.ts";
import { openLockedQuery, runLockedQuery, type SessionOptions } from "./session.ts";
import { parquetFiles } from "./testing/parquet-files.ts";

const files = await parquetFiles("pool", {
  mine: "SELECT range AS n FROM range(10)",
  other: "SELECT 'secret' AS s",
});
const { dir, spill } = files;
const { mine, other } = files.paths;

const settings = () => ({ threads: 1, memoryLimit: "128MB", tempRoot: spill });
const opts = (pool: DatabasePool, sql: string): SessionOptions => ({
  views: [{ name: "t", files: [mine] }],
  alias: "t",
  sql,
  limit: 100,
  maxResultBytes: 1 << 20,
  timeoutMs: 10_000,
  memoryLimit: "128MB",
  threads: 1,
  tempRoot: spill,
  pool,
});

test("every take is a different database; none is ever handed out twice", async () => {
  const pool = new DatabasePool(settings(), 2);
  const taken: FreshDatabase[] = [];
  for (let i = 0; i < 5; i++) taken.push(await pool.take());
  assert.equal(new Set(taken.map((d) => d.instance)).size, 5);
  assert.equal(new Set(taken.map((d) => d.spillDir)).size, 5);
  // take() does not refill (that waits for a teardown): 2 pooled, 3 created on demand.
  assert.deepEqual(pool.stats, { pooled: 2, onDemand: 3 });
  for (const d of taken) await destroyDatabase(d);
  assert.ok(taken.every((d) => !existsSync(d.spillDir)));
  await pool.close();
  assert.deepEqual(readdirSync(spill), []);
});

test("a session destroys its pooled database after use and the pool refills", async () => {
  const pool = new DatabasePool(settings(), 1);
  assert.equal(await pool.settled(), 1);
  const s = await openLockedQuery(opts(pool, "SELECT count(*) FROM dataset"));
  assert.deepEqual(s.result.rows, ["[10]"]);
  assert.equal(pool.stats.pooled, 1);
  await s.dispose();
  // The used database's spill dir is gone; exactly one fresh (unused) one is waiting.
  assert.equal(await pool.settled(), 1);
  assert.equal(readdirSync(spill).length, 1);
  await pool.close();
  assert.deepEqual(readdirSync(spill), []);
});

test("a pooled database is locked down exactly like one created on the spot", async () => {
  const pool = new DatabasePool(settings(), 2);
  const attacks = [
    "SELECT * FROM read_text('/etc/passwd')",
    `SELECT * FROM read_parquet('${other}')`,
    `SELECT * FROM '${other}'`,
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "LOAD httpfs",
    `COPY t TO '${join(dir, "out.csv")}'`,
  ];
  for (const sql of attacks) {
    await assert.rejects(runLockedQuery(opts(pool, sql)), (e) => {
      assert.ok(e instanceof QueryError, String(e));
      assert.ok([400, 403].includes(e.status), `${sql}: ${e.status}`);
      return true;
    });
  }
  assert.ok(pool.stats.pooled >= 2);
  assert.deepEqual(readdirSync(dir).sort(), ["mine.parquet", "other.parquet"]);
  await pool.close();
});

test("settings that differ from the pool's get a database created on the spot", async () => {
  const pool = new DatabasePool(settings(), 1);
  const r = await runLockedQuery({ ...opts(pool, "SELECT 1"), threads: 2 });
  assert.deepEqual(r.rows, ["[1]"]);
  assert.deepEqual(pool.stats, { pooled: 0, onDemand: 0 });
  await pool.close();
  await assert.rejects(pool.take(), /closed/);
  assert.throws(() => new DatabasePool(settings(), -1), /pool size/);
});
