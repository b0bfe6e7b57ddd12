import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { test } from "node:test";
import { QueryError } from "./errors.ts";
import { IdleDatabases, reuseKey } from "./idle.ts";
import { createFreshDatabase } from "./pool.ts";
import { openLockedQuery, runLockedQuery, type SessionOptions } from "./session.ts";
import { parquetFiles } from "./testing/parquet-files.ts";

const files = await parquetFiles("idle", {
  mine: "SELECT range AS n FROM range(10)",
  mineToo: "SELECT range AS n FROM range(10, 15)",
  other: "SELECT 'secret' AS s",
});
const { spill } = files;
const { mine, mineToo, other } = files.paths;

const opts = (idle: IdleDatabases, sql: string, scope = "org-a"): SessionOptions => ({
  views: [{ name: "t", files: [mine] }],
  alias: "t",
  sql,
  limit: 100,
  maxResultBytes: 1 << 20,
  timeoutMs: 10_000,
  memoryLimit: "128MB",
  threads: 1,
  tempRoot: spill,
  reuse: { idle, scope },
});

async function refused(p: Promise<unknown>): Promise<QueryError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof QueryError, String(err));
    return err;
  }
  assert.fail("query was not refused");
}

test("a cleanly used database is reused by an identical request and is still locked", async () => {
  const idle = new IdleDatabases(2, 60_000);
  const first = await openLockedQuery(opts(idle, "SELECT count(*) FROM t"));
  assert.deepEqual(first.result.rows, ["[10]"]);
  await first.dispose();
  assert.equal(idle.size, 1);

  const second = await openLockedQuery(opts(idle, "SELECT sum(n) FROM dataset"));
  assert.deepEqual(second.result.rows, ['["45"]']); // sum of BIGINT is HUGEINT: a string
  assert.equal(idle.stats.reused, 1);
  await second.dispose();

  // The reused database still reads nothing but its own file and cannot be unlocked.
  const attacks = [
    `SELECT * FROM read_parquet('${other}')`,
    `SELECT * FROM '${other}'`,
    "SELECT * FROM read_text('/etc/passwd')",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "LOAD httpfs",
  ];
  for (const sql of attacks) {
    const reusedBefore: number = idle.stats.reused;
    const err = await refused(runLockedQuery(opts(idle, sql)));
    assert.ok([400, 403].includes(err.status), `${sql}: ${err.status}`);
    assert.equal(idle.stats.reused, reusedBefore + 1, "the attack ran in a reused database");
    // A refused query's database is destroyed, never parked: the next one is fresh.
    assert.equal(idle.size, 0);
    await runLockedQuery(opts(idle, "SELECT 1"));
  }
  await idle.close();
  assert.deepEqual(readdirSync(spill), []);
});

test("no reuse across scopes, view sets or after a timeout", async () => {
  const idle = new IdleDatabases(4, 60_000);
  await runLockedQuery(opts(idle, "SELECT 1", "org-a"));
  // Another org, another file list, another view name: each gets a fresh database.
  await runLockedQuery(opts(idle, "SELECT 1", "org-b"));
  await runLockedQuery({
    ...opts(idle, "SELECT count(*) FROM t"),
    views: [{ name: "t", files: [mine, mineToo] }],
  });
  const renamed = await runLockedQuery({
    ...opts(idle, "SELECT count(*) FROM u"),
    views: [{ name: "u", files: [mine] }],
    alias: "u",
  });
  assert.deepEqual(renamed.rows, ["[10]"]);
  assert.equal(idle.stats.reused, 0);
  assert.equal(idle.size, 4);

  // The org-a database is reused once; a timeout there destroys it instead of parking it.
  const err = await refused(
    runLockedQuery({
      ...opts(
        idle,
        "SELECT count(*) FROM range(1000000000000) a, range(1000) b WHERE a.range * b.range = 7",
      ),
      timeoutMs: 300,
    }),
  );
  assert.equal(err.status, 408);
  assert.equal(idle.stats.reused, 1);
  assert.equal(idle.size, 3);
  await idle.close();
  assert.deepEqual(readdirSync(spill), []);
});

test("a truncated result still leaves a reusable database; results stay exact", async () => {
  const idle = new IdleDatabases(1, 60_000);
  const cut = await runLockedQuery({ ...opts(idle, "SELECT n FROM t ORDER BY n"), limit: 3 });
  assert.deepEqual(cut.rows, ["[0]", "[1]", "[2]"]);
  assert.equal(cut.truncatedBy, "rows");
  const all = await runLockedQuery(opts(idle, "SELECT n FROM t ORDER BY n"));
  assert.equal(all.rows.length, 10);
  assert.equal(all.truncated, false);
  assert.equal(idle.stats.reused, 1);
  await idle.close();
});

test("a drained result's connection is parked with its database; one cut at a limit is closed", async () => {
  const idle = new IdleDatabases(1, 60_000);
  const o = opts(idle, "SELECT n FROM t ORDER BY n");
  const settings = { threads: o.threads, memoryLimit: o.memoryLimit, tempRoot: o.tempRoot };
  const key = reuseKey("org-a", settings, o.views, o.alias);
  await runLockedQuery(o);
  let db = idle.take(key);
  assert.ok(db?.connection, "drained: the connection went with the database");
  idle.park(key, db);
  const cut = await runLockedQuery({ ...o, limit: 3 }); // runs on that very connection
  assert.equal(cut.truncatedBy, "rows");
  db = idle.take(key);
  assert.ok(db);
  assert.equal(db.connection, undefined, "cut short: the connection was closed");
  idle.park(key, db);
  const all = await runLockedQuery(o); // opens a new connection, drains, keeps it
  assert.equal(all.rows.length, 10);
  assert.equal(idle.stats.reused, 4); // two takes by this test, two by the queries
  await idle.close();
});

test("the idle set is bounded by capacity and by idle time; close destroys the rest", async () => {
  const settings = { threads: 1, memoryLimit: "64MB", tempRoot: spill };
  const idle = new IdleDatabases(2, 200);
  const dbs = await Promise.all([1, 2, 3].map(() => createFreshDatabase(settings)));
  for (const [i, db] of dbs.entries()) idle.park(`k${i}`, db);
  // The oldest was destroyed to stay within capacity.
  assert.equal(idle.size, 2);
  assert.equal(idle.take("k0"), undefined);
  const d1 = idle.take("k1");
  assert.equal(d1, dbs[1]);
  idle.park("k1", d1 as NonNullable<typeof d1>);
  // Both expire unused.
  for (let i = 0; i < 200 && idle.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(idle.size, 0);
  await idle.close();
  assert.ok(dbs.every((d) => !existsSync(d.spillDir)));
  assert.throws(() => new IdleDatabases(-1, 1), /capacity/);
  // After close nothing is parked.
  const late = await createFreshDatabase(settings);
  idle.park("k", late);
  assert.equal(idle.size, 0);
  await idle.close();
  assert.ok(!existsSync(late.spillDir));
});
