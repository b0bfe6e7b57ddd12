import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { SignJWT } from "jose";
import { type DatasetGrant, mintCapabilityToken, mintUserToken } from "../src/core/tokens.ts";
import { createQueryService, type QueryService } from "../src/query/index.ts";
import {
  LOGS_PER_TX,
  ORG,
  type Published,
  publishFileDataset,
  TEST_TASK_KEY,
  TEST_USER_KEY,
  TX_PER_BLOCK,
} from "../src/query/testing/fixtures.ts";
import { openObjectStore } from "../src/sink/open-store.ts";
import { connect, migrate, type Sql } from "../src/state/index.ts";
import { testDatabase } from "./support/postgres.ts";
import { testBucket } from "./support/s3.ts";

const cap = TEST_TASK_KEY;
const usr = TEST_USER_KEY;
const TASK = "11111111-1111-4111-8111-111111111111";

let sql: Sql;
let root: string;
let svc: QueryService;
let base: string;
const pub: Record<string, Published[]> = {};

const limits = {
  timeoutMs: 5_000,
  maxConcurrent: 2,
  maxQueued: 8,
  maxRows: 500,
  maxResultBytes: 1 << 20,
  memoryLimit: "256MB",
  threads: 1,
};

// Top level, not in before(): testDatabase() registers its own after() hook at the file level.
const db = await testDatabase("query");
{
  await migrate(db.url);
  sql = connect(db.url);
  root = mkdtempSync(join(tmpdir(), "trace-qs-"));
  for (const ds of ["blocks", "transactions", "logs"] as const) {
    pub[ds] = [
      await publishFileDataset(sql, root, ds, 0, 50, { files: 2 }),
      await publishFileDataset(sql, root, ds, 50, 100),
    ];
  }
  svc = await createQueryService({
    sql,
    capability: cap,
    user: usr,
    objectStore: `file://${root}`,
    cacheDir: join(root, ".cache"),
    limits,
  });
  base = await svc.app.listen({ host: "127.0.0.1", port: 0 });
}
after(async () => {
  await svc?.close();
  await sql?.end({ timeout: 5 });
  rmSync(root, { recursive: true, force: true });
});

const grant = (ds: string, extra: Partial<DatasetGrant> = {}): DatasetGrant => ({
  dataset_uuid: (pub[ds] as Published[])[0]?.datasetUuid as string,
  ...extra,
});
const userToken = (datasets: DatasetGrant[], cfg = usr) =>
  mintUserToken(cfg, "user:alice", {
    org_id: ORG,
    datasets,
    s3: { read_prefixes: [], write_prefixes: [] },
  });

async function post(path: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
async function userQuery(
  sqlText: string,
  datasets: DatasetGrant[],
  extra: Record<string, unknown> = {},
) {
  return await post(
    "/v1/query",
    { sql: sqlText, ...extra },
    { authorization: `Bearer ${await userToken(datasets)}` },
  );
}
async function okAudits(): Promise<number> {
  const [r] = await sql`SELECT count(*)::int AS n FROM data.query_audit WHERE outcome = 'ok'`;
  return r?.n as number;
}

const ALL = () => [grant("blocks"), grant("transactions"), grant("logs")];

test("joins, aggregates and window functions across blocks, transactions and logs", async () => {
  const counts = await userQuery(
    "SELECT (SELECT count(*) FROM blocks) AS b, (SELECT count(*) FROM transactions) AS t, (SELECT count(*) FROM logs) AS l",
    ALL(),
  );
  assert.equal(counts.status, 200, JSON.stringify(counts.body));
  assert.deepEqual(counts.body.rows, [[100, 100 * TX_PER_BLOCK, 100 * TX_PER_BLOCK * LOGS_PER_TX]]);

  const join3 = await userQuery(
    `SELECT b.block_number, count(DISTINCT t.transaction_hash) AS txs, count(l.log_index) AS logs,
            sum(t.gas_used) AS gas
       FROM blocks b JOIN transactions t ON t.block_number = b.block_number
       JOIN logs l ON l.transaction_hash = t.transaction_hash
      WHERE b.block_number IN (0, 49, 50, 99) GROUP BY 1 ORDER BY 1`,
    ALL(),
  );
  assert.equal(join3.status, 200, JSON.stringify(join3.body));
  // Each tx contributes its gas once per log in the join.
  const gas = (21000 + 21001 + 21002) * LOGS_PER_TX;
  assert.deepEqual(
    join3.body.rows,
    [0, 49, 50, 99].map((b) => [b, TX_PER_BLOCK, TX_PER_BLOCK * LOGS_PER_TX, String(gas)]),
  );
  assert.deepEqual(
    (join3.body.columns as { name: string }[]).map((c) => c.name),
    ["block_number", "txs", "logs", "gas"],
  );

  const win = await userQuery(
    `SELECT block_number, gas_used, sum(gas_used) OVER (ORDER BY block_number ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s2,
            row_number() OVER (ORDER BY block_number DESC) AS rn
       FROM blocks ORDER BY block_number LIMIT 3`,
    ALL(),
  );
  assert.equal(win.status, 200);
  assert.deepEqual(win.body.rows, [
    [0, "0", "0", 100],
    [1, "1000", "1000", 99],
    [2, "2000", "3000", 98],
  ]);

  const failed = await userQuery(
    "SELECT count(*) FILTER (WHERE NOT success) AS failed, '0x' || lower(hex(min(transaction_hash))) AS h FROM transactions",
    ALL(),
  );
  assert.deepEqual(failed.body.rows, [[100, `0x${"0".repeat(64)}`]]);

  // Binary columns come back as 0x hex.
  const bin = await userQuery(
    "SELECT address FROM logs ORDER BY block_number, log_index LIMIT 1",
    ALL(),
  );
  assert.deepEqual(bin.body.rows, [[`0x${(100).toString(16).padStart(40, "0")}`]]);
});

test("a single granted dataset is also visible as `dataset`; ungranted ones are not visible", async () => {
  const r = await userQuery("SELECT count(*) FROM dataset", [grant("logs")]);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.rows, [[600]]);
  const hidden = await userQuery("SELECT count(*) FROM blocks", [grant("logs")]);
  assert.equal(hidden.status, 400);
  assert.deepEqual(hidden.body, { error: "query could not be planned" });
  const named = await userQuery("SELECT count(*) FROM chain_logs", [
    grant("logs", { name: "chain_logs" }),
  ]);
  assert.deepEqual(named.body.rows, [[600]]);
  // A pinned version shows only its range.
  const pinned = await userQuery("SELECT min(block_number), max(block_number) FROM dataset", [
    grant("blocks", { dataset_version: pub.blocks?.[1]?.datasetVersion as string }),
  ]);
  assert.deepEqual(pinned.body.rows, [[50, 99]]);
});

test("a locked database is reused only for the same org and the same verified files", async () => {
  const idle = svc.context.idle;
  assert.ok(idle, "reuse is on by default");
  const p = pub.transactions?.[1] as Published;
  const only = [grant("transactions", { dataset_version: p.datasetVersion })];
  const count = "SELECT count(*) FROM dataset";
  assert.deepEqual((await userQuery(count, only)).body.rows, [[150]]);
  // The database is parked once the response is out; the same request then reuses it.
  for (let i = 0; i < 200 && idle.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const reused = idle.stats.reused;
  assert.deepEqual((await userQuery(count, only)).body.rows, [[150]]);
  assert.equal(idle.stats.reused, reused + 1);

  // Another org with the same grants gets its own database.
  const otherOrg = await mintUserToken(usr, "user:bob", {
    org_id: "00000000-0000-0000-0000-0000000000b0",
    datasets: only,
    s3: { read_prefixes: [], write_prefixes: [] },
  });
  const bob = await post("/v1/query", { sql: count }, { authorization: `Bearer ${otherOrg}` });
  assert.deepEqual(bob.body.rows, [[150]]);
  assert.equal(idle.stats.reused, reused + 1);

  // The files are verified on every request: one changed in place is refused even though a
  // database over it is parked.
  const file = p.objects[0]?.path as string;
  const original = readFileSync(file);
  try {
    writeFileSync(file, Buffer.concat([original, Buffer.from("x")]));
    assert.equal((await userQuery(count, only)).status, 422);
  } finally {
    writeFileSync(file, original);
  }
  assert.deepEqual((await userQuery(count, only)).body.rows, [[150]]);
});

test("token failures and unpublished data are refused and never audited as success", async () => {
  const before = await okAudits();
  const q = { sql: "SELECT 1" };
  assert.equal((await post("/v1/query", q, {})).status, 401);
  assert.equal((await post("/v1/query", q, { authorization: "Basic x" })).status, 401);
  const forged = await userToken(ALL(), { ...usr, secret: "f".repeat(40) });
  assert.equal((await post("/v1/query", q, { authorization: `Bearer ${forged}` })).status, 401);
  const wrongAud = await userToken(ALL(), { ...usr, audience: "trace.task" });
  assert.equal((await post("/v1/query", q, { authorization: `Bearer ${wrongAud}` })).status, 401);
  const now = Math.floor(Date.now() / 1000);
  const expired = await new SignJWT({
    org_id: ORG,
    datasets: ALL(),
    s3: { read_prefixes: [], write_prefixes: [] },
  })
    .setProtectedHeader({ alg: "HS256", kid: usr.kid })
    .setIssuer(usr.issuer)
    .setAudience(usr.audience)
    .setSubject("user:alice")
    .setIssuedAt(now - 7200)
    .setExpirationTime(now - 3600)
    .sign(new TextEncoder().encode(usr.secret));
  assert.equal((await post("/v1/query", q, { authorization: `Bearer ${expired}` })).status, 401);

  // Granted blocks only, asks for logs.
  const other = await userQuery("SELECT 1", [grant("blocks")], {
    dataset_id: pub.logs?.[0]?.datasetUuid,
  });
  assert.deepEqual(other, { status: 403, body: { error: "dataset not authorized" } });
  assert.equal((await userQuery("SELECT 1", [])).status, 403);
  // A version that was never published (not in dataset_versions).
  const unpublished = await userQuery("SELECT 1", [
    grant("blocks", { dataset_version: "99999999-9999-4999-8999-999999999999" }),
  ]);
  assert.deepEqual(unpublished, { status: 403, body: { error: "dataset version not published" } });
  // A dataset uuid with no published version at all.
  const unknown = await userQuery("SELECT 1", [
    { dataset_uuid: "99999999-9999-4999-8999-999999999999" },
  ]);
  assert.equal(unknown.status, 403);
  // A grant pinning a storage_ref that differs from the registry.
  const wrongRef = await userQuery("SELECT 1", [
    grant("blocks", { storage_ref: { scheme: "file", prefix: "/etc/", glob: "*.parquet" } }),
  ]);
  assert.deepEqual(wrongRef, { status: 403, body: { error: "dataset storage not authorized" } });
  assert.equal((await userQuery("SELECT * FROM read_text('/etc/passwd')", ALL())).status, 400);
  assert.equal(await okAudits(), before);
  const [denied] =
    await sql`SELECT count(*)::int AS n FROM data.query_audit WHERE outcome = 'denied'`;
  assert.ok((denied?.n as number) >= 5);
  const [leak] =
    await sql`SELECT count(*)::int AS n FROM data.query_audit WHERE error_category LIKE '%passwd%'`;
  assert.equal(leak?.n, 0);
});

test("registry rows with a missing, malformed or foreign storage_ref are refused", async () => {
  const before = await okAudits();
  const refs: [string, unknown][] = [
    ["missing prefix", { scheme: "file" }],
    ["unknown scheme", { scheme: "ftp", prefix: "/x/" }],
    ["not an object", "s3://bucket/x/"],
    ["relative file prefix", { scheme: "file", prefix: "x/y/", glob: "*.parquet" }],
    ["traversal", { scheme: "file", prefix: `${root}/../`, glob: "*.parquet" }],
    ["outside the store", { scheme: "file", prefix: "/etc/", glob: "*.parquet" }],
    ["other bucket", { scheme: "s3", bucket: "elsewhere", prefix: "cryo/x/", glob: "*.parquet" }],
  ];
  for (const [i, [label, ref]] of refs.entries()) {
    const uuid = `aaaaaaaa-0000-4000-8000-${String(i).padStart(12, "0")}`;
    await sql`
      INSERT INTO state.dataset_versions
        (dataset_version, dataset_uuid, storage_ref, config_hash, chain_id, range_start, range_end)
      VALUES (${`bbbbbbbb-0000-4000-8000-${String(i).padStart(12, "0")}`}, ${uuid},
              ${sql.json(ref as never)}, 'cryo_ingest.blocks:v1', 1, 0, 10)`;
    const r = await userQuery("SELECT 1", [{ dataset_uuid: uuid }]);
    assert.deepEqual(
      r,
      { status: 403, body: { error: "dataset storage not authorized" } },
      `${label}: ${JSON.stringify(r)}`,
    );
  }
  assert.equal(await okAudits(), before);
});

test("task route: capability must match the request; success is audited with task and datasets", async () => {
  const mint = (attempt: number) =>
    mintCapabilityToken(cap, {
      org_id: ORG,
      task_id: TASK,
      attempt,
      datasets: [grant("logs")],
      s3: { read_prefixes: [], write_prefixes: [] },
    });
  const body = { task_id: TASK, attempt: 1, sql: "SELECT count(*) AS n FROM logs" };
  assert.equal((await post("/v1/task/query", body, {})).status, 401);
  const stale = await post("/v1/task/query", body, { "x-trace-task-capability": await mint(2) });
  assert.deepEqual(stale, { status: 403, body: { error: "capability does not match request" } });
  const ok = await post("/v1/task/query", body, { "x-trace-task-capability": await mint(1) });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual(ok.body.rows, [[600]]);
  const rows = await sql`SELECT * FROM data.query_audit WHERE task_id = ${TASK} AND outcome = 'ok'`;
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.route, "task");
  assert.equal(rows[0]?.subject, `task:${TASK}`);
  assert.equal(Number(rows[0]?.row_count), 1);
  assert.deepEqual(rows[0]?.dataset_ids, [pub.logs?.[0]?.datasetUuid]);
  // No column of the audit table holds the SQL.
  const text = JSON.stringify(rows[0]);
  assert.ok(!text.includes("count(*)"));
});

test("results over the limits are truncated and flagged", async () => {
  const r = await userQuery("SELECT * FROM logs", ALL(), { limit: 7 });
  assert.equal(r.status, 200);
  assert.equal((r.body.rows as unknown[]).length, 7);
  assert.equal(r.body.truncated, true);
  assert.equal(r.body.truncated_by, "rows");
  const capped = await userQuery("SELECT * FROM logs", ALL(), { limit: 100_000 });
  assert.equal((capped.body.rows as unknown[]).length, limits.maxRows);
  assert.equal(capped.body.truncated, true);
  const whole = await userQuery("SELECT * FROM blocks", ALL(), { limit: 100 });
  assert.equal(whole.body.truncated, false);
});

test("a runaway query is killed by the timeout and the service keeps answering", async () => {
  const r = await userQuery(
    "SELECT count(*) FROM range(1000000000000) a, range(1000) b WHERE a.range * b.range = 7",
    ALL(),
  );
  assert.deepEqual(r, { status: 408, body: { error: "query timed out" } });
  assert.equal((await userQuery("SELECT 1", ALL())).status, 200);
});

test("the concurrency cap holds under 50 parallel requests", async () => {
  let peak = 0;
  const limiter = svc.context.limiter;
  const poll = setInterval(() => {
    peak = Math.max(peak, limiter.active);
  }, 1);
  const results = await Promise.all(
    Array.from({ length: 50 }, () =>
      userQuery("SELECT count(*) FROM logs l JOIN transactions t USING (transaction_hash)", ALL()),
    ),
  );
  clearInterval(poll);
  const statuses = results.map((r) => r.status);
  assert.ok(
    statuses.every((s) => s === 200 || s === 429),
    statuses.join(","),
  );
  const ok = statuses.filter((s) => s === 200).length;
  assert.ok(ok >= limits.maxConcurrent, `only ${ok} succeeded`);
  assert.ok(statuses.includes(429), "no request was shed");
  assert.ok(peak <= limits.maxConcurrent, `peak ${peak}`);
  assert.ok(limiter.peak <= limits.maxConcurrent, `limiter peak ${limiter.peak}`);
  for (const r of results.filter((x) => x.status === 200)) assert.deepEqual(r.body.rows, [[600]]);
});

test("manifests are verified: tampering, escapes and missing manifests fail closed", async () => {
  // A version of its own (another org's blocks): no earlier request has verified its manifest,
  // so every case below is a first read. Failed verifications are never cached.
  const p = await publishFileDataset(sql, root, "blocks", 0, 50, {
    org: "00000000-0000-0000-0000-0000000000aa",
  });
  const manifestPath = join(p.prefix, "_manifest.json");
  const original = JSON.stringify({
    version: 1,
    dataset_uuid: p.datasetUuid,
    dataset_version: p.datasetVersion,
    objects: p.objects.map(({ key, size, sha256 }) => ({ key, size, sha256 })),
  });
  const only = [{ dataset_uuid: p.datasetUuid, dataset_version: p.datasetVersion }];
  const cases: [string, unknown, number][] = [
    ["key outside prefix", { objects: [{ ...p.objects[0], key: "etc/passwd.parquet" }] }, 422],
    [
      "sibling prefix",
      { objects: [{ ...p.objects[0], key: `${p.prefix.slice(1, -1)}-evil/x.parquet` }] },
      422,
    ],
    [
      "traversal",
      { objects: [{ ...p.objects[0], key: `${p.prefix.slice(1)}../../x.parquet` }] },
      422,
    ],
    ["not parquet", { objects: [{ ...p.objects[0], key: `${p.prefix.slice(1)}x.csv` }] }, 422],
    ["wrong size", { objects: [{ ...p.objects[0], size: 1 }] }, 422],
    ["other version", { dataset_version: "99999999-9999-4999-8999-999999999999" }, 422],
    ["empty", { objects: [] }, 422],
    ["unknown field", { extra: 1 }, 422],
  ];
  try {
    for (const [label, patch, status] of cases) {
      const m = { ...JSON.parse(original), ...(patch as object) };
      writeFileSync(manifestPath, JSON.stringify(m));
      const r = await userQuery("SELECT count(*) FROM dataset", only);
      assert.equal(r.status, status, `${label}: ${JSON.stringify(r.body)}`);
    }
    writeFileSync(manifestPath, "{not json");
    assert.equal((await userQuery("SELECT 1", only)).status, 422);
    writeFileSync(manifestPath, " ".repeat(5 * 1024 * 1024));
    assert.equal((await userQuery("SELECT 1", only)).status, 413);
    rmSync(manifestPath);
    assert.deepEqual(await userQuery("SELECT 1", only), {
      status: 502,
      body: { error: "dataset manifest fetch failed" },
    });
  } finally {
    writeFileSync(manifestPath, original);
  }
  assert.equal((await userQuery("SELECT count(*) FROM dataset", only)).status, 200);

  // Once verified, a published (immutable) version's manifest is kept: rewriting it later is
  // not picked up, while the files it lists are still checked in place on every request.
  writeFileSync(
    manifestPath,
    JSON.stringify({ ...JSON.parse(original), objects: [{ ...p.objects[0], size: 1 }] }),
  );
  try {
    assert.deepEqual((await userQuery("SELECT count(*) FROM dataset", only)).body.rows, [[50]]);
  } finally {
    writeFileSync(manifestPath, original);
  }
  const moved = `${p.objects[0]?.path}.moved`;
  renameSync(p.objects[0]?.path as string, moved);
  try {
    assert.equal((await userQuery("SELECT count(*) FROM dataset", only)).status, 422);
  } finally {
    renameSync(moved, p.objects[0]?.path as string);
  }
  assert.equal((await userQuery("SELECT count(*) FROM dataset", only)).status, 200);
});

test("a version published after a request is seen by the next one: the registry snapshot is re-checked", async () => {
  const org = "00000000-0000-0000-0000-0000000000bb";
  const first = await publishFileDataset(sql, root, "logs", 0, 50, { org });
  const only = [{ dataset_uuid: first.datasetUuid }];
  const count = async () => {
    const r = await userQuery("SELECT count(*) AS n FROM dataset", only);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.rows;
  };
  const stats = svc.context.versions?.stats as { confirmed: number; rerun: number };
  assert.deepEqual(await count(), [[300]]); // no snapshot yet: registry first
  const confirmed = stats.confirmed;
  assert.deepEqual(await count(), [[300]]); // ran on the snapshot, which the registry confirmed
  assert.equal(stats.confirmed, confirmed + 1);
  const rerun = stats.rerun;
  await publishFileDataset(sql, root, "logs", 50, 100, { org });
  // The snapshot lacks the new version: that run is discarded and the query runs again.
  assert.deepEqual(await count(), [[600]]);
  assert.equal(stats.rerun, rerun + 1);
  assert.deepEqual(await count(), [[600]]);
  // A grant naming the new version directly, while the snapshot still has it, is also exact.
  const second = await publishFileDataset(sql, root, "logs", 100, 150, { org });
  const r = await userQuery("SELECT count(*) FROM dataset", [
    { dataset_uuid: first.datasetUuid, dataset_version: second.datasetVersion },
  ]);
  assert.deepEqual(r.body.rows, [[300]]);
});

test("s3 datasets are fetched into the verified content-addressed cache: cold, then warm", async () => {
  const { bucket, client, env } = await testBucket("query");
  const store = openObjectStore(`s3://${bucket}`, { env });
  const cacheDir = join(root, ".s3cache");
  const s3svc = await createQueryService({
    sql,
    capability: cap,
    user: usr,
    objectStore: store,
    cacheDir,
    cacheMaxBytes: 64 * 1024 * 1024,
    limits,
  });
  try {
    // Publish a dataset into the bucket under its version prefix (as the sink would).
    const { publishS3Dataset } = await import("../src/query/testing/fixtures.ts");
    const p = await publishS3Dataset(sql, client, bucket, join(root, "s3src"), "logs", 0, 40, {
      org: "00000000-0000-0000-0000-000000000002",
    });
    const g = [{ dataset_uuid: p.datasetUuid }];
    const ctx = s3svc.context;
    const run = () =>
      import("../src/query/index.ts").then((m) =>
        m.runQuery(ctx, {
          principal: { orgId: ORG, subject: "user:s3", route: "user" },
          grants: g,
          sql: "SELECT count(*), count(DISTINCT transaction_hash) FROM dataset",
        }),
      );
    const cold = await run();
    assert.deepEqual(
      cold.rows.map((r) => JSON.parse(r)),
      [[240, 120]],
    );
    assert.equal(ctx.cache.stats.misses, p.objects.length);
    const warm = await run();
    assert.deepEqual(warm.rows, cold.rows);
    assert.equal(ctx.cache.stats.hits, p.objects.length);
    assert.equal(ctx.cache.stats.misses, p.objects.length);

    // An object whose bytes no longer match the manifest's sha256 is refused, not scanned.
    const bad = await publishS3Dataset(sql, client, bucket, join(root, "s3src"), "blocks", 0, 40, {
      org: "00000000-0000-0000-0000-000000000002",
    });
    const obj = bad.objects[0] as Published["objects"][number];
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: obj.key, Body: Buffer.alloc(obj.size, 1) }),
    );
    await assert.rejects(
      import("../src/query/index.ts").then((m) =>
        m.runQuery(ctx, {
          principal: { orgId: ORG, subject: "user:s3", route: "user" },
          grants: [{ dataset_uuid: bad.datasetUuid }],
          sql: "SELECT count(*) FROM dataset",
        }),
      ),
      (err: { status?: number }) => err.status === 422,
    );
  } finally {
    await s3svc.close();
    await store.close();
  }
});
