import assert from "node:assert/strict";
import { test } from "node:test";
import { makeVector, Table, tableToIPC } from "apache-arrow";
import { blockChunks, chunkFileName, networkName } from "../extract/naming.ts";
import { BytesColumn } from "../parquet/columns.ts";
import { withFaultServer } from "../rpc/testing/harness.ts";
import { recordedResult } from "./fixtures.ts";
import { compileLayout, getDataset, parseU256Types, selectColumns } from "./index.ts";
import type { LogUnit } from "./logs.ts";
import { effectiveGasPrice, type TxUnit, transactions } from "./transactions.ts";
import type { JsonBlock, JsonReceipt } from "./types.ts";
import { writeBinary } from "./values.ts";

test("aliases resolve to canonical names; unknown datasets are rejected with the list", () => {
  assert.equal(getDataset("txs").name, "transactions");
  assert.equal(getDataset("events").name, "logs");
  assert.throws(
    () => getDataset("traces"),
    /unknown dataset "traces" \(supported: blocks, transactions, txs, logs, events\)/,
  );
});

test("cryo column selection: defaults, --columns, include/exclude, all; file order is struct order", () => {
  const blocks = getDataset("blocks");
  assert.deepEqual(selectColumns(blocks, {}), [
    "block_hash",
    "author",
    "block_number",
    "gas_used",
    "extra_data",
    "timestamp",
    "base_fee_per_gas",
    "chain_id",
  ]);
  assert.deepEqual(selectColumns(blocks, { columns: ["timestamp", "block_number"] }), [
    "block_number",
    "timestamp",
  ]);
  assert.deepEqual(
    selectColumns(blocks, {
      includeColumns: ["parent_hash"],
      excludeColumns: ["extra_data", "author"],
    }),
    [
      "block_hash",
      "parent_hash",
      "block_number",
      "gas_used",
      "timestamp",
      "base_fee_per_gas",
      "chain_id",
    ],
  );
  assert.equal(selectColumns(blocks, { columns: ["all"] }).length, 21);
  assert.throws(
    () => selectColumns(blocks, { columns: ["value"] }),
    /--columns: unknown column "value" for dataset blocks/,
  );
  assert.throws(
    () => selectColumns(blocks, { excludeColumns: ["nope"] }),
    /--exclude-columns: unknown column "nope"/,
  );
  const txs = getDataset("transactions");
  // cryo's optional columns, in struct order between n_input_nonzero_bytes and chain_id.
  assert.deepEqual(selectColumns(txs, { columns: ["all"] }).slice(-7), [
    "n_rlp_bytes",
    "block_hash",
    "timestamp",
    "r",
    "s",
    "v",
    "chain_id",
  ]);
  assert.deepEqual(selectColumns(txs, { columns: ["n_rlp_bytes", "transaction_hash"] }), [
    "transaction_hash",
    "n_rlp_bytes",
  ]);
});

test("--u256-types: aliases, fixed output order, decimal128 refused", () => {
  assert.deepEqual(parseU256Types(["u64", "float", "str", "binary"]), [
    "binary",
    "string",
    "f64",
    "u64",
  ]);
  assert.throws(() => parseU256Types(["d128"]), /decimal128 is not implemented/);
  assert.throws(() => parseU256Types(["int"]), /unknown u256 type "int"/);
});

test("u256 and hex layouts name and type their columns like cryo", () => {
  const txs = getDataset("transactions");
  const layout = compileLayout(txs, ["value", "to_address", "chain_id"], {
    hex: true,
    u256Types: parseU256Types(["binary", "string", "f32", "f64", "u32", "u64"]),
  });
  assert.deepEqual(
    layout.schema.fields.map((f) => `${f.name}:${f.type}`),
    [
      "to_address:LargeUtf8",
      "value_binary:LargeUtf8",
      "value_string:LargeUtf8",
      "value_f32:Float32",
      "value_f64:Float64",
      "value_u32:Uint32",
      "value_u64:Uint64",
      "chain_id:Uint64",
    ],
  );
});

test("effective gas price follows cryo's formula and agrees with every recorded receipt", () => {
  const block = recordedResult("eth_getBlockByNumber", 18_000_000) as JsonBlock;
  const receipts = recordedResult("eth_getBlockReceipts", 18_000_000) as JsonReceipt[];
  const unit: TxUnit = { block, receipts };
  const rows = transactions.rows(unit);
  assert.equal(rows.length, 94);
  for (const r of rows) {
    assert.equal(effectiveGasPrice(r.tx, block), BigInt(r.receipt!.effectiveGasPrice!), r.tx.hash);
  }
});

test("a receipt that belongs to another transaction fails the block with a clear message", () => {
  const block = recordedResult("eth_getBlockByNumber", 18_000_000) as JsonBlock;
  const receipts = [...(recordedResult("eth_getBlockReceipts", 18_000_000) as JsonReceipt[])];
  [receipts[0], receipts[1]] = [receipts[1]!, receipts[0]!];
  assert.throws(
    () => transactions.rows({ block, receipts }),
    /receipt 0 of block 0x112a880 is for transaction/,
  );
});

test("cryo file naming and chunking: end-inclusive labels, zero-padded to 8 digits, unaligned", () => {
  assert.equal(networkName(1), "ethereum");
  assert.equal(networkName(143), "network_143");
  assert.equal(networkName(31337), "network_31337");
  assert.equal(
    chunkFileName("ethereum", "blocks", 0, 999),
    "ethereum__blocks__00000000_to_00000999.parquet",
  );
  assert.equal(
    chunkFileName("ethereum", "logs", 123_456_789, 123_457_788),
    "ethereum__logs__123456789_to_123457788.parquet",
  );
  assert.deepEqual(blockChunks(100, 2600, 1000), [
    { start: 100, end: 1099 },
    { start: 1100, end: 2099 },
    { start: 2100, end: 2599 },
  ]);
  assert.throws(() => blockChunks(5, 5, 1000), /empty block range 5:5/);
  assert.throws(() => blockChunks(0, 5, 0), /chunk size must be a positive integer/);
});

test("binary columns: malformed hex is refused without committing bytes; valid hex round-trips", () => {
  const col = new BytesColumn("binary");
  writeBinary(col, "input", "0x00ff10");
  for (const bad of ["0x12zz", "0x123", "12ab", "0X12", "0x1g", 5]) {
    assert.throws(
      () => writeBinary(col, "input", bad as string),
      /invalid value for column input/,
      String(bad),
    );
  }
  writeBinary(col, "input", "0x");
  writeBinary(col, "input", "0xAbCd");
  const data = col.finish();
  const vector = makeVector(data);
  assert.deepEqual(
    [...vector].map((b) => Buffer.from(b as Uint8Array).toString("hex")),
    ["00ff10", "", "abcd"],
  );
});

test("logs fetched as columns: their rows, and their bulk append, build the JSON path's batch", async () => {
  const logsDef = getDataset("logs");
  const numbers = Array.from({ length: 24 }, (_, i) => 200 + i);
  const selected = selectColumns(logsDef, { columns: ["all"] });
  const needs = { columns: new Set(selected), innerRequestSize: 1 };
  const ctx = { chainId: 1 };
  await withFaultServer({}, {}, async (client) => {
    const viaJson = await logsDef.fetch(client, numbers, needs);
    const viaColumns = await logsDef.fetch(client, numbers, { ...needs, columnar: true });
    assert.ok(viaColumns.some((u: LogUnit) => u.columnar !== undefined));
    const ipc = (fill: (layout: ReturnType<typeof compileLayout>) => void) => {
      const layout = compileLayout(logsDef, selected);
      fill(layout);
      return tableToIPC(new Table([layout.takeBatch()]), "stream");
    };
    const expected = ipc((l) => {
      for (const u of viaJson) for (const r of logsDef.rows(u)) l.append(r, ctx);
    });
    assert.ok(expected.length > 0);
    // Row objects made back from the columns (for callers that want rows)...
    const fromRows = ipc((l) => {
      for (const u of viaColumns) for (const r of logsDef.rows(u)) l.append(r, ctx);
    });
    // ...and the bulk append the engine uses.
    const inBulk = ipc((l) => {
      for (const u of viaColumns) {
        const bulk = logsDef.columnarRows?.(u);
        if (bulk) l.appendBulk?.(bulk.rows, bulk.count, ctx);
      }
    });
    assert.deepEqual(fromRows, expected);
    assert.deepEqual(inBulk, expected);
  });
});
