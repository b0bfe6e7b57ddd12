import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { test } from "node:test";
import { QueryError } from "./errors.ts";
import { runLockedQuery, type SessionOptions } from "./session.ts";
import { parquetFiles } from "./testing/parquet-files.ts";

const files = await parquetFiles("session", {
  mine: `SELECT range::UINTEGER AS block_number, (range * 1000)::UBIGINT AS gas_used,
                range::BIGINT * 1000000000000 AS big, ('\\x01\\xab'::BLOB) AS hash,
                (range / 3)::DECIMAL(10, 2) AS d,
                'row ' || range AS label, [range, range + 1] AS l, {'a': range} AS s,
                (range / 0.0)::DOUBLE AS inf, INTERVAL 1 DAY AS iv
           FROM range(100)`,
  other: "SELECT 'secret' AS s",
});
const { dir, spill } = files;
const { mine, other } = files.paths;

const base = (): SessionOptions => ({
  views: [{ name: "blocks", files: [mine] }],
  alias: "blocks",
  sql: "SELECT count(*) AS n FROM blocks",
  limit: 1000,
  maxResultBytes: 1 << 20,
  timeoutMs: 10_000,
  memoryLimit: "256MB",
  threads: 1,
  tempRoot: spill,
});

async function refusal(opts: Partial<SessionOptions>): Promise<QueryError> {
  try {
    await runLockedQuery({ ...base(), ...opts });
  } catch (err) {
    assert.ok(err instanceof QueryError, String(err));
    return err;
  }
  assert.fail("query was not refused");
}

test("views and the dataset alias answer, and values map JSON-safely", async () => {
  const r = await runLockedQuery({
    ...base(),
    sql: "SELECT block_number, gas_used, big, hash, d, 170141183460469231731687303715884105727::HUGEINT AS h, label, l, s, inf, iv FROM dataset WHERE block_number = 2",
  });
  assert.deepEqual(
    r.columns.map((c) => c.name),
    ["block_number", "gas_used", "big", "hash", "d", "h", "label", "l", "s", "inf", "iv"],
  );
  assert.equal(r.columns[1]?.type, "UBIGINT");
  assert.equal(r.rows.length, 1);
  assert.deepEqual(JSON.parse(r.rows[0] as string), [
    2,
    "2000",
    2000000000000,
    "0x01ab",
    "0.67",
    "170141183460469231731687303715884105727",
    "row 2",
    [2, 3],
    { a: 2 },
    null,
    { months: 0, days: 1, micros: 0 },
  ]);
  assert.equal(r.truncated, false);
  // The spill directory is removed after the query.
  assert.deepEqual(readdirSync(spill), []);
});

test("even with the gate bypassed, the locked DuckDB refuses files, the network and settings", async () => {
  const server = createServer((_req, res) => res.end("a,b\n1,2\n"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  let hits = 0;
  server.on("request", () => hits++);
  try {
    const attacks = [
      "SELECT * FROM read_text('/etc/passwd')",
      "SELECT * FROM read_csv('/etc/passwd')",
      "SELECT * FROM '/etc/passwd'",
      `SELECT * FROM read_parquet('${other}')`,
      `SELECT * FROM '${other}'`,
      `SELECT * FROM glob('${dir}/*')`,
      `SELECT * FROM parquet_metadata('${other}')`,
      `SELECT * FROM read_csv('http://127.0.0.1:${port}/x.csv')`,
      `SELECT * FROM read_text('http://127.0.0.1:${port}/x')`,
      "SET enable_external_access = true",
      "SET lock_configuration = false",
      "SET allowed_paths = ['/etc/passwd']",
      "RESET allowed_directories",
      "INSTALL httpfs",
      "LOAD httpfs",
      `ATTACH '${join(dir, "x.db")}' AS x`,
      `COPY blocks TO '${join(dir, "out.csv")}'`,
      `COPY (SELECT 1) TO '${join(spill, "out.csv")}'`,
      `ATTACH ':memory:' AS m; SELECT 1`,
    ];
    for (const sql of attacks) {
      const err = await refusal({ sql }).catch((e) => assert.fail(`${sql}: ${e}`));
      assert.ok([400, 403].includes(err.status), `${sql}: ${err.status}`);
      assert.ok(!err.message.includes("/"), err.message);
    }
    assert.equal(hits, 0);
    assert.deepEqual(readdirSync(dir).sort(), ["mine.parquet", "other.parquet"]);
  } finally {
    server.close();
  }
});

test("a runaway query is interrupted at the timeout", async () => {
  const err = await refusal({
    sql: "SELECT count(*) FROM range(1000000000000) a, range(1000) b WHERE a.range * b.range = 7",
    timeoutMs: 300,
  });
  assert.equal(err.status, 408);
});

test("results are cut at the row limit and at the byte limit, and flagged", async () => {
  const byRows = await runLockedQuery({ ...base(), sql: "SELECT * FROM blocks", limit: 10 });
  assert.equal(byRows.rows.length, 10);
  assert.equal(byRows.truncated, true);
  assert.equal(byRows.truncatedBy, "rows");

  const exact = await runLockedQuery({ ...base(), sql: "SELECT * FROM blocks", limit: 100 });
  assert.equal(exact.rows.length, 100);
  assert.equal(exact.truncated, false);

  const byBytes = await runLockedQuery({
    ...base(),
    sql: "SELECT label FROM blocks ORDER BY block_number",
    maxResultBytes: 100,
  });
  assert.equal(byBytes.truncated, true);
  assert.equal(byBytes.truncatedBy, "bytes");
  assert.ok(byBytes.resultBytes <= 100);
  assert.ok(byBytes.rows.length > 0 && byBytes.rows.length < 100);
});

test("bad view specifications are refused before any SQL runs", async () => {
  const err = await refusal({ views: [{ name: "bad name", files: [mine] }] });
  assert.equal(err.category, "hardening_failed");
  const missing = await refusal({
    views: [{ name: "x", files: [join(dir, "nope.parquet")] }],
    alias: "x",
  });
  assert.equal(missing.category, "hardening_failed");
});
