/**
 * Conformance on real mainnet data: `trace extract blocks transactions logs` against the replay
 * server for block 18,000,000, read back with DuckDB *and* hyparquet, and compared with values
 * computed here, independently of src/datasets, from the recorded JSON.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { DuckDBInstance } from "@duckdb/node-api";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { encodeTransaction } from "../src/datasets/rlp.ts";
import { keccak256 } from "../src/datasets/testing/keccak.ts";
import { testCompressors } from "../src/parquet/lz4-raw.ts";
import {
  RECORDINGS_PATH,
  type RunningReplayServer,
  startReplayServer,
} from "./support/replay-server.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const CRYO_TX = join(root, "..", "shared", "testdata", "cryo", "tx_45000.parquet");

// biome-ignore lint/suspicious/noExplicitAny: recorded node JSON is checked by value
type Json = Record<string, any>;
const lines: Json[] = gunzipSync(readFileSync(RECORDINGS_PATH))
  .toString("utf8")
  .split("\n")
  .filter((l) => l !== "")
  .map((l) => JSON.parse(l));
const recorded = (method: string, n: string): Json =>
  lines.find((l) => l.method === method && String(l.params[0]).toLowerCase() === n)!.result;
const receiptsJson: Json[] = recorded("eth_getBlockReceipts", "0x112a880") as unknown as Json[];
const block: Json = recorded("eth_getBlockByNumber", "0x112a880");
const receipts = receiptsJson;

// ---- expected values, from the JSON only -------------------------------------------------
const big = (h: string) => BigInt(h);
const num = (h: string) => Number(BigInt(h));
const lower = (h: string | null | undefined) => (h == null ? null : h.toLowerCase());
const padHex = (x: bigint) => `0x${x.toString(16).padStart(64, "0")}`;
function zeroBytes(hex: string): number {
  let n = 0;
  for (let i = 2; i < hex.length; i += 2) if (hex.slice(i, i + 2) === "00") n++;
  return n;
}

const expectedBlocks = [
  {
    block_hash: lower(block.hash),
    author: lower(block.miner),
    block_number: num(block.number),
    gas_used: receipts.reduce((s, r) => s + big(r.gasUsed), 0n),
    extra_data: lower(block.extraData),
    timestamp: num(block.timestamp),
    base_fee_per_gas: big(block.baseFeePerGas),
    chain_id: 1n,
  },
];

const expectedTxs = block.transactions.map((tx: Json, i: number) => {
  const r = receipts[i]!;
  assert.equal(r.transactionHash, tx.hash);
  const value = big(tx.value);
  const legacy = tx.maxFeePerGas === undefined;
  return {
    block_number: num(tx.blockNumber),
    transaction_index: big(tx.transactionIndex),
    transaction_hash: lower(tx.hash),
    nonce: big(tx.nonce),
    from_address: lower(tx.from),
    to_address: lower(tx.to),
    value_binary: padHex(value),
    value_string: value.toString(),
    value_f64: Number(value),
    input: lower(tx.input),
    gas_limit: big(tx.gas),
    gas_used: big(r.gasUsed),
    gas_price: big(r.effectiveGasPrice),
    transaction_type: num(tx.type),
    max_priority_fee_per_gas: legacy ? null : big(tx.maxPriorityFeePerGas),
    max_fee_per_gas: legacy ? null : big(tx.maxFeePerGas),
    success: r.status === "0x1",
    n_input_bytes: (tx.input.length - 2) / 2,
    n_input_zero_bytes: zeroBytes(tx.input),
    n_input_nonzero_bytes: (tx.input.length - 2) / 2 - zeroBytes(tx.input),
    chain_id: 1n,
  };
});

const expectedLogs = receipts
  .flatMap((r) => r.logs)
  .map((l: Json) => ({
    block_number: num(l.blockNumber),
    transaction_index: num(l.transactionIndex),
    log_index: num(l.logIndex),
    transaction_hash: lower(l.transactionHash),
    address: lower(l.address),
    topic0: lower(l.topics[0]),
    topic1: lower(l.topics[1]),
    topic2: lower(l.topics[2]),
    topic3: lower(l.topics[3]),
    data: lower(l.data),
    n_data_bytes: (l.data.length - 2) / 2,
    chain_id: 1n,
  }))
  .sort((a, b) => a.log_index - b.log_index);

const BINARY: Record<string, string[]> = {
  blocks: ["block_hash", "author", "extra_data"],
  transactions: ["transaction_hash", "from_address", "to_address", "value_binary", "input"],
  logs: ["transaction_hash", "address", "topic0", "topic1", "topic2", "topic3", "data"],
};
const U64: Record<string, string[]> = {
  blocks: ["gas_used", "base_fee_per_gas", "chain_id"],
  transactions: [
    "transaction_index",
    "nonce",
    "gas_limit",
    "gas_used",
    "gas_price",
    "max_priority_fee_per_gas",
    "max_fee_per_gas",
    "chain_id",
  ],
  logs: ["chain_id"],
};

// ---- run the CLI once ----------------------------------------------------------------------
let srv: RunningReplayServer;
let out: string;
let summary: { files: { key: string; rows: number; bytes: number; sha256: string }[] };
const fileOf = (dataset: string) => join(out, `ethereum__${dataset}__18000000_to_18000000.parquet`);

before(async () => {
  srv = await startReplayServer();
  out = mkdtempSync(join(tmpdir(), "trace-extract-conf-"));
  const { stdout } = await run(
    process.execPath,
    [
      join(root, "bin", "trace.js"),
      "extract",
      "blocks",
      "transactions",
      "logs",
      "--rpc",
      srv.url,
      "--blocks",
      "18000000:18000001",
      "--output",
      out,
      "--json",
    ],
    { cwd: root },
  );
  summary = JSON.parse(stdout);
});
after(async () => {
  await srv?.stop();
  if (out) rmSync(out, { recursive: true, force: true });
});

test("writes exactly three cryo-named files with row counts, sizes and sha256 in the summary", () => {
  assert.deepEqual(
    summary.files.map((f) => [f.key.split("/").at(-1), f.rows]),
    [
      ["ethereum__blocks__18000000_to_18000000.parquet", 1],
      ["ethereum__transactions__18000000_to_18000000.parquet", 94],
      ["ethereum__logs__18000000_to_18000000.parquet", 291],
    ],
  );
  for (const f of summary.files) {
    const bytes = readFileSync(join(out, f.key.split("/").at(-1)!));
    assert.equal(bytes.length, f.bytes);
    assert.match(f.sha256, /^[0-9a-f]{64}$/);
  }
});

async function readDuck(dataset: string): Promise<Json[]> {
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  try {
    const cols = (
      await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${fileOf(dataset)}')`)
    )
      .getRowObjects()
      .map((r) => String(r.column_name));
    const select = cols
      .map((c) =>
        BINARY[dataset]!.includes(c)
          ? `CASE WHEN ${c} IS NULL THEN NULL ELSE '0x' || lower(hex(${c})) END AS ${c}`
          : c,
      )
      .join(", ");
    const reader = await conn.runAndReadAll(
      `SELECT ${select} FROM read_parquet('${fileOf(dataset)}')`,
    );
    return reader.getRowObjects().map((row) => {
      const o: Json = {};
      for (const c of cols) {
        const v = row[c];
        o[c] = v;
      }
      return o;
    });
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

async function readHyparquet(dataset: string): Promise<Json[]> {
  const buf = readFileSync(fileOf(dataset));
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer;
  const rows: Json[] = await parquetReadObjects({
    file,
    utf8: false,
    compressors: testCompressors,
  });
  const dec = new TextDecoder();
  return rows.map((r) => {
    const o: Json = {};
    for (const [k, v] of Object.entries(r)) {
      if (v instanceof Uint8Array) {
        o[k] = BINARY[dataset]!.includes(k) ? `0x${Buffer.from(v).toString("hex")}` : dec.decode(v);
      } else o[k] = v;
    }
    return o;
  });
}

/** DuckDB returns UBIGINT as bigint and UINTEGER as number; hyparquet the same. Normalise. */
function normalise(rows: Json[], dataset: string): Json[] {
  return rows.map((r) => {
    const o: Json = {};
    for (const [k, v] of Object.entries(r)) {
      o[k] = U64[dataset]!.includes(k) && v !== null ? BigInt(v as bigint) : v;
    }
    return o;
  });
}

for (const [dataset, expected] of [
  ["blocks", expectedBlocks],
  ["transactions", expectedTxs],
  ["logs", expectedLogs],
] as const) {
  test(`${dataset}: every row and column matches the recorded JSON (DuckDB and hyparquet)`, async () => {
    const duck = normalise(await readDuck(dataset), dataset);
    const hyp = normalise(await readHyparquet(dataset), dataset);
    assert.equal(duck.length, expected.length);
    assert.deepEqual(Object.keys(duck[0]!), Object.keys(expected[0]!), "column order");
    assert.deepEqual(duck, expected);
    assert.deepEqual(hyp, expected);
  });
}

test("the recorded block's facts hold in the files: 94 txs, 291 logs, 2 failed, gas sums", async () => {
  const txs = await readHyparquet("transactions");
  assert.equal(txs.length, 94);
  assert.equal(txs.filter((t) => t.success === false).length, 2);
  const gasSum = txs.reduce((s, t) => s + BigInt(t.gas_used), 0n);
  const [b] = await readHyparquet("blocks");
  assert.equal(BigInt(b!.gas_used), gasSum);
  assert.equal(gasSum, big(block.gasUsed));
  assert.equal((await readHyparquet("logs")).length, 291);
});

test("the transactions file has cryo's exact Parquet schema (tx_45000.parquet)", () => {
  const schemaOf = (path: string) => {
    const b = readFileSync(path);
    const meta = parquetMetadata(
      b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer,
    );
    return {
      columns: meta.schema.slice(1).map((s) => ({
        name: s.name,
        type: s.type,
        converted_type: s.converted_type,
        logical_type: s.logical_type,
        repetition_type: s.repetition_type,
      })),
      codecs: [
        ...new Set(meta.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec))),
      ],
      hasArrowSchema: meta.key_value_metadata?.some((kv) => kv.key === "ARROW:schema"),
      pageIndex: meta.row_groups.every((g) =>
        g.columns.every((c) => c.column_index_offset !== undefined),
      ),
    };
  };
  const ours = schemaOf(fileOf("transactions"));
  const cryo = schemaOf(CRYO_TX);
  assert.equal(ours.columns.length, 21);
  assert.deepEqual(ours, cryo);
});

test("n_rlp_bytes: each transaction's EIP-2718 length; its keccak256 is the transaction hash", async () => {
  const dir = mkdtempSync(join(tmpdir(), "trace-extract-rlp-"));
  try {
    await run(
      process.execPath,
      [
        join(root, "bin", "trace.js"),
        "extract",
        "transactions",
        "--rpc",
        srv.url,
        "--blocks",
        "18000000:18000001",
        "--output",
        dir,
        "--columns",
        "transaction_hash",
        "n_rlp_bytes",
        "--hex",
      ],
      { cwd: root },
    );
    const bytes = readFileSync(join(dir, "ethereum__transactions__18000000_to_18000000.parquet"));
    const rows = await parquetReadObjects({
      file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer,
      compressors: testCompressors,
    });
    assert.equal(rows.length, 94);
    const recorded = block.transactions as Json[];
    for (const [i, row] of rows.entries()) {
      const tx = recorded[i]!;
      assert.equal(row.transaction_hash, tx.hash);
      // The encoding is checked against the chain (its hash), its length against the column.
      const encoded = encodeTransaction(tx)!;
      assert.equal(keccak256(encoded), tx.hash, `transaction ${i}`);
      assert.equal(row.n_rlp_bytes, encoded.length, `transaction ${i}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
