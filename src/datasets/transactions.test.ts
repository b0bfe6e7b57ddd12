import assert from "node:assert/strict";
import { test } from "node:test";
import { makeVector } from "apache-arrow";
import { recordedResult } from "./fixtures.ts";
import { compileLayout, getDataset } from "./index.ts";
import { effectiveGasPrice, type TxRow, transactions } from "./transactions.ts";
import type { JsonBlock, JsonReceipt, JsonTx } from "./types.ts";

/**
 * The gas_price and value columns as written by the row layout (number fast paths, u256 bytes
 * decoded from the digits) against BigInt arithmetic done independently here.
 */

function columnsOf(rows: TxRow[]) {
  const layout = compileLayout<TxRow>(getDataset("transactions"), ["value", "gas_price"]);
  for (const r of rows) layout.append(r, { chainId: 1 });
  const batch = layout.takeBatch();
  const col = (n: string) => [...makeVector(batch.getChild(n)!.data[0]!)];
  return {
    gasPrice: col("gas_price") as (bigint | null)[],
    valueBinary: col("value_binary").map((b) =>
      b === null ? null : Buffer.from(b as Uint8Array).toString("hex"),
    ),
    valueString: col("value_string") as (string | null)[],
  };
}

const u64 = (x: bigint | null) => (x === null ? null : BigInt.asUintN(64, x));

test("gas_price and value of every recorded mainnet transaction match BigInt arithmetic", () => {
  const block = recordedResult("eth_getBlockByNumber", 18_000_000) as JsonBlock;
  const receipts = recordedResult("eth_getBlockReceipts", 18_000_000) as JsonReceipt[];
  const rows = [...transactions.rows({ block, receipts })];
  const got = columnsOf(rows);
  assert.deepEqual(
    got.gasPrice,
    rows.map((r) => u64(effectiveGasPrice(r.tx, block))),
  );
  assert.deepEqual(
    got.gasPrice,
    rows.map((r) => BigInt(r.receipt!.effectiveGasPrice!)),
  );
  assert.deepEqual(
    got.valueBinary,
    rows.map((r) => BigInt(r.tx.value).toString(16).padStart(64, "0")),
  );
  assert.deepEqual(
    got.valueString,
    rows.map((r) => BigInt(r.tx.value).toString()),
  );
});

test("gas_price edge cases: huge fees, missing base fee or tip, max fee below base, legacy wrap", () => {
  const base = (baseFeePerGas: string | null | undefined) =>
    ({ number: "0x1", baseFeePerGas, transactions: [] }) as unknown as JsonBlock;
  const tx = (o: Partial<JsonTx>): JsonTx =>
    ({
      hash: "0x01",
      nonce: "0x0",
      from: "0x00",
      value: "0x0",
      gas: "0x0",
      input: "0x",
      ...o,
    }) as JsonTx;
  const cases: [JsonTx, JsonBlock][] = [
    [
      tx({ type: "0x2", maxFeePerGas: "0x174876e800", maxPriorityFeePerGas: "0x3b9aca00" }),
      base("0x2540be400"),
    ],
    [tx({ type: "0x2", maxFeePerGas: "0x174876e800" }), base("0x2540be400")],
    [tx({ type: "0x2", maxFeePerGas: "0x174876e800", maxPriorityFeePerGas: "0x1" }), base(null)],
    [tx({ type: "0x2", maxFeePerGas: "0x10", maxPriorityFeePerGas: "0x5" }), base("0x20")],
    [
      tx({ type: "0x2", maxFeePerGas: "0xfffffffffffff", maxPriorityFeePerGas: "0xfffffffffffff" }),
      base("0xfffffffffffff"),
    ],
    [
      tx({ type: "0x2", maxFeePerGas: `0x${"f".repeat(40)}`, maxPriorityFeePerGas: "0x1" }),
      base("0x7"),
    ],
    [
      tx({ type: "0x3", maxFeePerGas: "0x1", maxPriorityFeePerGas: `0x1${"0".repeat(20)}` }),
      base("0x0"),
    ],
    [tx({ type: "0x0", gasPrice: `0x1${"0".repeat(16)}5` }), base("0x7")],
    [tx({ gasPrice: "0x3b9aca00" }), base(undefined)],
    [tx({ type: "0x1" }), base("0x7")],
  ];
  const rows = cases.map(([t, b], i): TxRow => ({ tx: t, block: b, receipt: undefined, index: i }));
  assert.deepEqual(
    columnsOf(rows).gasPrice,
    cases.map(([t, b]) => u64(effectiveGasPrice(t, b))),
  );
  const bad = {
    tx: tx({ type: "0x2", maxFeePerGas: "0x1z" }),
    block: base("0x1"),
    receipt: undefined,
    index: 0,
  };
  assert.throws(() => columnsOf([bad]), /invalid value for column max_fee_per_gas/);
});

test("value_binary: any digit count (odd, even, leading zeros, 64 digits) gives 32 big-endian bytes", () => {
  const values = [
    "0x0",
    "0x1",
    "0xa",
    "0x10",
    "0xabc",
    "0x00ff",
    `0x${"f".repeat(63)}`,
    `0x${"e".repeat(64)}`,
  ];
  const rows = values.map(
    (value, i): TxRow => ({
      tx: { value } as JsonTx,
      block: { number: "0x1" } as JsonBlock,
      receipt: undefined,
      index: i,
    }),
  );
  const layout = compileLayout<TxRow>(getDataset("transactions"), ["value"]);
  for (const r of rows) layout.append(r, { chainId: 1 });
  const bytes = [...makeVector(layout.takeBatch().getChild("value_binary")!.data[0]!)];
  assert.deepEqual(
    bytes.map((b) => Buffer.from(b as Uint8Array).toString("hex")),
    values.map((v) => BigInt(v).toString(16).padStart(64, "0")),
  );
});
