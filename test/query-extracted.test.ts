/**
 * The Query Service over datasets published by a REAL extraction: the extraction engine pulls
 * blocks, transactions and logs of a few hundred blocks from the synthetic chain (startDevnet)
 * through the RpcClient, streams them through an ArtifactSink into the S3 test server and into a
 * folder, writes the manifests and registers the publications in the state registry. Queries go
 * through HTTP (user JWT) and every expected value is computed from the chain's own JSON-RPC
 * JSON (SyntheticChain accessors), never from the Parquet files or DuckDB.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { datasetUuid, datasetVersion, versionPrefix } from "../src/core/ids.ts";
import { type DatasetGrant, mintUserToken } from "../src/core/tokens.ts";
import { type Devnet, startDevnet } from "../src/devnet/server.ts";
import { extractRange } from "../src/extract/index.ts";
import { createQueryService, type QueryService } from "../src/query/index.ts";
import { TEST_TASK_KEY, TEST_USER_KEY } from "../src/query/testing/fixtures.ts";
import { RpcClient } from "../src/rpc/index.ts";
import { createArtifactSink, type ObjectStore, openObjectStore } from "../src/sink/index.ts";
import { connect, migrate, registerDatasetVersion, type Sql } from "../src/state/index.ts";
import { testDatabase } from "./support/postgres.ts";
import { testBucket } from "./support/s3.ts";

const ORG = "00000000-0000-4000-8000-0000000000a1";
const CHAIN_ID = 31337;
const CHAIN = { seed: 11, chainId: CHAIN_ID, length: 5_000, txsPerBlock: 12, logsPerBlock: 30 };
// Two published ranges per dataset (so every view unions two versions), 100-block files.
const RANGES: [number, number][] = [
  [2_000, 2_150],
  [2_150, 2_320],
];
const [FIRST, LAST_EXCL] = [2_000, 2_320];
const DATASETS = ["blocks", "transactions", "logs"] as const;
type Ds = (typeof DATASETS)[number];

const usr = TEST_USER_KEY;
const cap = TEST_TASK_KEY;
const limits = {
  timeoutMs: 20_000,
  maxConcurrent: 2,
  maxRows: 20_000,
  maxResultBytes: 16 << 20,
  memoryLimit: "256MB",
  threads: 1,
};

const db = await testDatabase("query_extracted");
await migrate(db.url);
const sql: Sql = connect(db.url);
const devnet: Devnet = await startDevnet({ chain: CHAIN });
const folder = mkdtempSync(join(tmpdir(), "trace-qx-"));
const bucket = await testBucket("query-extracted");
const stores: Record<"s3" | "folder", ObjectStore> = {
  s3: openObjectStore(`s3://${bucket.bucket}/pub`, { env: bucket.env }),
  folder: openObjectStore(`file://${folder}`),
};
const services: QueryService[] = [];
after(async () => {
  for (const s of services) await s.close();
  for (const s of Object.values(stores)) await s.close();
  await devnet.stop();
  await sql.end({ timeout: 5 });
  rmSync(folder, { recursive: true, force: true });
});

/** Extract one dataset over one range into a store and publish it the way a worker does. */
async function publish(
  rpc: RpcClient,
  store: ObjectStore,
  org: string,
  ds: Ds,
  range: [number, number],
) {
  const uuid = datasetUuid(org, CHAIN_ID, ds);
  const configHash = `cryo_ingest.${ds}:v1`;
  const version = datasetVersion(uuid, configHash, CHAIN_ID, range[0], range[1]);
  const sink = createArtifactSink({
    store,
    prefix: versionPrefix({
      chainId: CHAIN_ID,
      datasetUuid: uuid,
      rangeStart: range[0],
      rangeEnd: range[1],
      datasetVersion: version,
    }),
    datasetUuid: uuid,
    datasetVersion: version,
    configHash,
    rangeStart: range[0],
    rangeEnd: range[1],
  });
  try {
    const r = await extractRange({
      rpc,
      dataset: ds,
      chainId: CHAIN_ID,
      range,
      sink,
      options: { chunkSize: 100 },
    });
    assert.ok(r.files.length >= 2, `${ds} ${range}: ${r.files.length} files`);
  } catch (err) {
    await sink.abort();
    throw err;
  }
  const publication = await sink.writeManifest();
  const reg = await registerDatasetVersion(sql, publication, { chainId: CHAIN_ID });
  assert.ok(reg, "registered");
  return uuid;
}

// The same chain range published twice: into S3 (org A) and into a folder (org B).
const ORGS = { s3: ORG, folder: "00000000-0000-4000-8000-0000000000b2" } as const;
const uuids: Record<"s3" | "folder", Record<Ds, string>> = { s3: {}, folder: {} } as never;
{
  const rpc = new RpcClient({ urls: [devnet.url] });
  try {
    for (const where of ["s3", "folder"] as const)
      for (const ds of DATASETS)
        for (const range of RANGES)
          uuids[where][ds] = await publish(rpc, stores[where], ORGS[where], ds, range);
  } finally {
    await rpc.close();
  }
}

const bases: Record<"s3" | "folder", string> = { s3: "", folder: "" };
for (const where of ["s3", "folder"] as const) {
  const svc = await createQueryService({
    sql,
    capability: cap,
    user: usr,
    objectStore: stores[where],
    cacheDir: join(folder, `.cache-${where}`),
    limits,
  });
  services.push(svc);
  bases[where] = await svc.app.listen({ host: "127.0.0.1", port: 0 });
}

// biome-ignore lint/suspicious/noExplicitAny: JSON rows are checked value by value
type Row = any[];
async function query(where: "s3" | "folder", sqlText: string, datasets: Ds[]): Promise<Row[]> {
  const grants: DatasetGrant[] = datasets.map((d) => ({ dataset_uuid: uuids[where][d] }));
  const token = await mintUserToken(usr, "user:analyst", {
    org_id: ORGS[where],
    datasets: grants,
    s3: { read_prefixes: [], write_prefixes: [] },
  });
  const res = await fetch(`${bases[where]}/v1/query`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ sql: sqlText, limit: limits.maxRows }),
  });
  const body = (await res.json()) as { rows: Row[]; truncated: boolean; error?: string };
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.truncated, false);
  return body.rows;
}

// ---- expectations from the chain's own JSON-RPC JSON --------------------------------------
const big = (hex: string) => BigInt(hex);
const num = (hex: string) => Number(BigInt(hex));
const chain = devnet.chain;
interface BlockFacts {
  n: number;
  timestamp: number;
  gasUsed: bigint;
  txHashes: string[];
  // biome-ignore lint/suspicious/noExplicitAny: node JSON
  receipts: Record<string, any>[];
}
const facts: BlockFacts[] = [];
for (let n = FIRST; n < LAST_EXCL; n++) {
  const block = chain.block(n, false) as {
    timestamp: string;
    gasUsed: string;
    transactions: string[];
  };
  facts.push({
    n,
    timestamp: num(block.timestamp),
    gasUsed: big(block.gasUsed),
    txHashes: block.transactions,
    receipts: chain.receipts(n) ?? [],
  });
}
const allLogs = chain.logs({ fromBlock: FIRST, toBlock: LAST_EXCL - 1 });
const totalTxs = facts.reduce((a, f) => a + f.txHashes.length, 0);

test("the extraction produced a non-trivial chain slice", () => {
  assert.ok(totalTxs > 2_000, `${totalTxs} txs`);
  assert.ok(allLogs.length > 5_000, `${allLogs.length} logs`);
  // Per-block counts vary (jitter), so per-block comparisons below are not all the same number.
  assert.ok(new Set(facts.map((f) => f.txHashes.length)).size > 3);
});

for (const where of ["s3", "folder"] as const) {
  test(`${where}: row counts of the three views equal the chain's`, async () => {
    const rows = await query(
      where,
      `SELECT (SELECT count(*) FROM blocks), (SELECT count(*) FROM transactions),
              (SELECT count(*) FROM logs), (SELECT min(block_number) FROM logs),
              (SELECT max(block_number) FROM blocks)`,
      [...DATASETS],
    );
    const firstLog = num(allLogs[0]?.blockNumber as string);
    assert.deepEqual(rows, [
      [LAST_EXCL - FIRST, totalTxs, allLogs.length, firstLog, LAST_EXCL - 1],
    ]);
  });

  test(`${where}: join blocks ⟕ transactions: tx count, gas per block, header gas_used`, async () => {
    const rows = await query(
      where,
      `SELECT b.block_number, b.timestamp, b.gas_used, count(t.transaction_hash) AS txs,
              coalesce(sum(t.gas_used), 0) AS tx_gas
         FROM blocks b LEFT JOIN transactions t ON t.block_number = b.block_number
        GROUP BY ALL ORDER BY b.block_number`,
      ["blocks", "transactions"],
    );
    const want = facts.map((f) => [
      f.n,
      f.timestamp,
      String(f.gasUsed),
      f.txHashes.length,
      String(f.receipts.reduce((a, r) => a + big(r.gasUsed), 0n)),
    ]);
    assert.deepEqual(rows, want);
  });

  test(`${where}: logs per (address, topic0) aggregate`, async () => {
    const rows = await query(
      where,
      `SELECT address, topic0, count(*) AS n, count(DISTINCT transaction_hash) AS txs
         FROM logs GROUP BY 1, 2 ORDER BY n DESC, address, topic0`,
      ["logs"],
    );
    const byKey = new Map<string, { n: number; txs: Set<string> }>();
    for (const l of allLogs) {
      const k = `${l.address}|${l.topics[0] ?? null}`;
      const e = byKey.get(k) ?? { n: 0, txs: new Set<string>() };
      e.n++;
      e.txs.add(l.transactionHash);
      byKey.set(k, e);
    }
    assert.equal(rows.length, byKey.size);
    const got = new Map(rows.map((r) => [`${r[0]}|${r[1]}`, [r[2], r[3]]]));
    for (const [k, e] of byKey) assert.deepEqual(got.get(k), [e.n, e.txs.size], k);
    // Order: by count descending.
    const ns = rows.map((r) => r[2] as number);
    assert.deepEqual(
      ns,
      [...ns].sort((a, b) => b - a),
    );
  });

  test(`${where}: three-way join logs → transactions → blocks, logs per sender`, async () => {
    const rows = await query(
      where,
      `SELECT t.from_address, count(*) AS logs, count(DISTINCT l.transaction_hash) AS txs,
              min(b.timestamp) AS first_ts, bool_and(t.success) AS all_ok
         FROM logs l
         JOIN transactions t ON t.transaction_hash = l.transaction_hash
                            AND t.block_number = l.block_number
         JOIN blocks b ON b.block_number = l.block_number
        GROUP BY 1 ORDER BY 1`,
      [...DATASETS],
    );
    const bySender = new Map<string, { logs: number; txs: number; first: number }>();
    for (const f of facts)
      for (const r of f.receipts) {
        if (r.logs.length === 0) continue;
        const e = bySender.get(r.from) ?? { logs: 0, txs: 0, first: Infinity };
        e.logs += r.logs.length;
        e.txs++;
        e.first = Math.min(e.first, f.timestamp);
        bySender.set(r.from, e);
        assert.equal(r.status, "0x1", "only successful transactions emit logs");
      }
    const want = [...bySender.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([from, e]) => [from, e.logs, e.txs, e.first, true]);
    assert.deepEqual(rows, want);
  });

  test(`${where}: window functions: cumulative gas per block = receipts' cumulativeGasUsed`, async () => {
    const rows = await query(
      where,
      `SELECT block_number, transaction_index,
              sum(gas_used) OVER (PARTITION BY block_number ORDER BY transaction_index) AS cum_gas,
              row_number() OVER w AS rn,
              lag(transaction_hash) OVER w AS prev_hash
         FROM transactions
       WINDOW w AS (PARTITION BY block_number ORDER BY transaction_index)
        ORDER BY block_number, transaction_index`,
      ["transactions"],
    );
    const want: Row[] = [];
    for (const f of facts)
      for (const [i, r] of f.receipts.entries())
        want.push([
          f.n,
          String(i),
          String(big(r.cumulativeGasUsed)),
          i + 1,
          i === 0 ? null : f.txHashes[i - 1],
        ]);
    assert.deepEqual(rows, want);
  });

  test(`${where}: window over an aggregate: rank blocks by log count, running total`, async () => {
    const rows = await query(
      where,
      `WITH per_block AS (
         SELECT b.block_number, count(l.log_index) AS n
           FROM blocks b LEFT JOIN logs l USING (block_number) GROUP BY 1)
       SELECT block_number, n,
              sum(n) OVER (ORDER BY block_number ROWS UNBOUNDED PRECEDING) AS running,
              rank() OVER (ORDER BY n DESC) AS rnk
         FROM per_block ORDER BY block_number`,
      ["blocks", "logs"],
    );
    const counts = facts.map((f) => f.receipts.reduce((a, r) => a + r.logs.length, 0));
    let running = 0;
    const want = facts.map((f, i) => {
      const n = counts[i] as number;
      running += n;
      const rank = 1 + counts.filter((c) => c > n).length;
      return [f.n, n, String(running), rank];
    });
    assert.deepEqual(rows, want);
  });
}

test("S3 and folder publications of the same extraction answer identically", async () => {
  const q =
    "SELECT block_number, log_index, address, topic0, topic1, data FROM logs ORDER BY 1, 2 LIMIT 5000";
  const [a, b] = await Promise.all([query("s3", q, ["logs"]), query("folder", q, ["logs"])]);
  assert.deepEqual(a, b);
  const want = allLogs
    .slice(0, 5000)
    .map((l) => [
      num(l.blockNumber),
      num(l.logIndex),
      l.address,
      l.topics[0] ?? null,
      l.topics[1] ?? null,
      l.data === "0x" ? "0x" : l.data,
    ]);
  assert.deepEqual(a, want);
});
