/**
 * Query Service latency vs bare DuckDB on the same Parquet files, same run.
 *   node --import tsx bench/query.ts [logRows=1000000] [reps=31]
 * Starts its own PostgreSQL (embedded) and S3 test server, publishes a logs dataset of
 * `logRows` rows (file store and S3), then times representative queries: through HTTP
 * (token verify, gate, registry lookup, manifest read + verify, fresh locked DuckDB, JSON)
 * vs a warm bare DuckDB connection reading the same files. Also cold (cache miss) vs warm S3.
 * Before each timed request the service's background work (teardown of the previous request's
 * database, pool refill) is allowed to finish, and so is it before each bare query, so neither
 * side is timed while the other's leftovers compete for the 2 cores. A second table shows the
 * service back to back (closed loop, no pause), where that background work lands on the next
 * request. A third column runs the same requests through a second service with database reuse
 * off (`idleDatabases: 0`: a fresh database set up for every request), same run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";
import { Agent, request } from "undici";
import { mintUserToken } from "../src/core/tokens.ts";
import { createQueryService, runQuery } from "../src/query/index.ts";
import {
  ORG,
  publishFileDataset,
  publishS3Dataset,
  TEST_USER_KEY,
} from "../src/query/testing/fixtures.ts";
import { openObjectStore } from "../src/sink/open-store.ts";
import { connect, migrate } from "../src/state/index.ts";
import { startPostgres } from "../test/support/postgres.ts";
import { awsEnv, s3ClientFor, startS3Server } from "../test/support/s3.ts";

const LOGS_PER_BLOCK = 6; // 3 txs × 2 logs in the fixture generator
const logRows = Number(process.argv[2] ?? 1_000_000);
const blocks = Math.ceil(logRows / LOGS_PER_BLOCK);
// 31, not 7 or 11: with few repetitions the medians (each request woken from idle: PostgreSQL
// backend, DuckDB and libuv threads) moved the summed ratio by ±0.08 from run to run.
const REPS = Number(process.argv[3] ?? 31);

const pg = await startPostgres();
const s3 = await startS3Server();
const root = mkdtempSync(join(tmpdir(), "trace-qbench-"));
const usr = TEST_USER_KEY;
const limits = {
  timeoutMs: 60_000,
  maxConcurrent: 2,
  maxRows: 10_000,
  maxResultBytes: 10 * 1024 * 1024,
  memoryLimit: "1GB",
  threads: 2,
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

try {
  await migrate(pg.url);
  const sql = connect(pg.url);
  const t0 = performance.now();
  const pub = await publishFileDataset(sql, root, "logs", 0, blocks, { files: 4 });
  console.log(
    `published ${blocks * LOGS_PER_BLOCK} logs in ${pub.objects.length} files (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const svc = await createQueryService({
    sql,
    capability: { ...usr, issuer: "x", audience: "trace.task", kid: "dev" },
    user: usr,
    objectStore: `file://${root}`,
    cacheDir: join(root, ".cache"),
    limits,
  });
  const base = await svc.app.listen({ host: "127.0.0.1", port: 0 });
  const svcFresh = await createQueryService({
    sql,
    capability: { ...usr, issuer: "x", audience: "trace.task", kid: "dev" },
    user: usr,
    objectStore: `file://${root}`,
    cacheDir: join(root, ".cache-fresh"),
    limits: { ...limits, idleDatabases: 0 },
  });
  const baseFresh = await svcFresh.app.listen({ host: "127.0.0.1", port: 0 });
  const token = await mintUserToken(usr, "user:bench", {
    org_id: ORG,
    datasets: [{ dataset_uuid: pub.datasetUuid }],
    s3: { read_prefixes: [], write_prefixes: [] },
  });

  const bare = await DuckDBInstance.create(":memory:", { threads: "2", memory_limit: "1GB" });
  const bc = await bare.connect();
  const files = pub.objects.map((o) => `'${o.path}'`).join(", ");
  await bc.run(`CREATE VIEW logs AS SELECT * FROM read_parquet([${files}])`);

  const queries: [string, string][] = [
    ["count", "SELECT count(*) FROM logs"],
    [
      "top addresses",
      "SELECT address, count(*) AS n FROM logs GROUP BY address ORDER BY n DESC LIMIT 10",
    ],
    [
      "per-block agg",
      "SELECT block_number, count(*) AS n FROM logs GROUP BY 1 ORDER BY n DESC, 1 LIMIT 20",
    ],
    [
      "filter + hex",
      "SELECT block_number, log_index, transaction_hash FROM logs WHERE block_number % 1000 = 7 ORDER BY 1, 2 LIMIT 100",
    ],
    [
      "window",
      "SELECT block_number, log_index, row_number() OVER (PARTITION BY transaction_hash ORDER BY log_index) AS rn FROM logs WHERE block_number < 2000 ORDER BY 1, 2 LIMIT 1000",
    ],
  ];
  /** Waits until the previous request's teardown and the pool refill are done. */
  const settle = async () => {
    for (const s of [svc, svcFresh]) {
      for (let i = 0; i < 200 && s.context.limiter.active > 0; i++)
        await new Promise((r) => setTimeout(r, 1));
      await s.context.pool?.settled();
    }
    await new Promise((r) => setTimeout(r, 2));
  };
  // undici.request over a keep-alive agent: Node's global fetch adds ~0.6–0.8 ms of client-side
  // work per request (WHATWG streams), which is the client's cost, not the service's.
  const agent = new Agent({ connections: 4 });
  const viaHttp = async (name: string, q: string, url = base) => {
    const res = await request(`${url}/v1/query`, {
      method: "POST",
      dispatcher: agent,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ sql: q, limit: 10_000 }),
    });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${name}: ${res.statusCode} ${body}`);
  };
  const results: {
    name: string;
    service: number;
    bare: number;
    backToBack: number;
    fresh: number;
  }[] = [];
  for (const [name, q] of queries) {
    const svcTimes: number[] = [];
    const bareTimes: number[] = [];
    const freshTimes: number[] = [];
    for (let i = 0; i < REPS; i++) {
      await settle();
      let s = performance.now();
      await viaHttp(name, q);
      svcTimes.push(performance.now() - s);
      await settle();
      s = performance.now();
      await viaHttp(name, q, baseFresh);
      freshTimes.push(performance.now() - s);
      await settle();
      s = performance.now();
      const r = await bc.runAndReadAll(q);
      JSON.stringify(r.getRowsJson());
      bareTimes.push(performance.now() - s);
    }
    await settle();
    const loop: number[] = [];
    for (let i = 0; i < REPS; i++) {
      const s = performance.now();
      await viaHttp(name, q);
      loop.push(performance.now() - s);
    }
    results.push({
      name,
      service: median(svcTimes),
      bare: median(bareTimes),
      backToBack: median(loop),
      fresh: median(freshTimes),
    });
  }
  const pool = svc.context.pool;
  console.log(
    `\nlatency over ${blocks * LOGS_PER_BLOCK} logs, median of ${REPS} (ms); service: databases from the pool ${pool?.stats.pooled ?? 0}, created on demand ${pool?.stats.onDemand ?? "all"}, reused ${svc.context.idle?.stats.reused ?? 0}`,
  );
  console.log(
    "| query | service (HTTP) | bare DuckDB | ratio | service back to back | ratio | service, no reuse | ratio |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  const row = (name: string, r: Omit<(typeof results)[number], "name">) =>
    console.log(
      `| ${name} | ${r.service.toFixed(1)} | ${r.bare.toFixed(1)} | ${(r.service / r.bare).toFixed(2)}× | ${r.backToBack.toFixed(1)} | ${(r.backToBack / r.bare).toFixed(2)}× | ${r.fresh.toFixed(1)} | ${(r.fresh / r.bare).toFixed(2)}× |`,
    );
  for (const r of results) row(r.name, r);
  const sum = (k: "service" | "bare" | "backToBack" | "fresh") =>
    results.reduce((a, r) => a + r[k], 0);
  row("all (sum)", {
    service: sum("service"),
    bare: sum("bare"),
    backToBack: sum("backToBack"),
    fresh: sum("fresh"),
  });

  // S3: the same dataset shape uploaded to the S3 test server; cold (cache miss) vs warm.
  const client = s3ClientFor(s3.endpoint);
  await client.send(new CreateBucketCommand({ Bucket: "qbench" }));
  const s3pub = await publishS3Dataset(
    sql,
    client,
    "qbench",
    join(root, "s3src"),
    "logs",
    0,
    blocks,
    {
      files: 4,
      org: "00000000-0000-0000-0000-000000000002",
    },
  );
  const store = openObjectStore("s3://qbench", { env: awsEnv(s3.endpoint) });
  const s3svc = await createQueryService({
    sql,
    capability: { ...usr, issuer: "x", audience: "trace.task", kid: "dev" },
    user: usr,
    objectStore: store,
    cacheDir: join(root, ".s3cache"),
    cacheMaxBytes: 4 * 1024 ** 3,
    limits,
  });
  const req = {
    principal: { orgId: ORG, subject: "user:bench", route: "user" as const },
    grants: [{ dataset_uuid: s3pub.datasetUuid }],
    sql: "SELECT count(*) FROM logs",
  };
  let s = performance.now();
  await runQuery(s3svc.context, req);
  const cold = performance.now() - s;
  const warm: number[] = [];
  for (let i = 0; i < REPS; i++) {
    s = performance.now();
    await runQuery(s3svc.context, req);
    warm.push(performance.now() - s);
  }
  const bytes = s3svc.context.cache.stats.bytesFetched;
  console.log(
    `\nS3 count(*) over ${blocks * LOGS_PER_BLOCK} logs (${(bytes / 1024 ** 2).toFixed(1)} MiB in ${s3pub.objects.length} objects):`,
  );
  console.log(
    `cold (cache miss, fetch + sha256 verify): ${cold.toFixed(1)} ms; warm (median of ${REPS}): ${median(warm).toFixed(1)} ms`,
  );

  await agent.close();
  await s3svc.close();
  await store.close();
  await svc.close();
  await svcFresh.close();
  bc.closeSync();
  bare.closeSync();
  await sql.end({ timeout: 5 });
} finally {
  rmSync(root, { recursive: true, force: true });
  await s3.stop();
  await pg.stop();
}
