import { FatalError } from "../core/errors.ts";
import { ReceiptColumns } from "../rpc/receipts-decode.ts";
import type { TxColumns } from "../rpc/tx-columns.ts";
import { transactionRlpLength } from "./rlp.ts";
import type {
  BlockRpc,
  BulkValues,
  CellValue,
  ColumnSpec,
  DatasetDef,
  FetchNeeds,
  JsonBlock,
  JsonReceipt,
  JsonTx,
} from "./types.ts";
import {
  badValue,
  countBytes,
  hexNumber,
  padQuantity,
  parseU256,
  smallQuantity,
} from "./values.ts";

/**
 * cryo `transactions` / `txs` (crates/freeze/src/datasets/transactions.rs):
 * `eth_getBlockByNumber(n, true)`, plus `eth_getBlockReceipts(n)` when `gas_used` or `success`
 * is selected. One row per transaction, sorted by (block_number, transaction_index). With
 * `needs.columnar` the transactions and receipts may come decoded into columns
 * (RpcClient.getTransactionBlocks: TxColumns, ReceiptColumns), appended in bulk; a block the
 * client had to parse as JSON comes as objects and goes through the row getters.
 */
export interface TxUnit {
  /** With its transactions as objects; only the header when they came as `txs`. */
  block: JsonBlock;
  /** As objects, or as columns (decoded from the response bytes; see needs.columnar). */
  receipts: JsonReceipt[] | ReceiptColumns | null;
  /** The transactions as columns (decoded from the response bytes; see needs.columnar). */
  txs?: TxColumns | undefined;
}

export interface TxRow {
  tx: JsonTx;
  block: JsonBlock;
  receipt: JsonReceipt | undefined;
  /** The block's receipts as columns instead; this row's is at `position`. */
  receiptColumns?: ReceiptColumns | undefined;
  /** The transaction's position in the block (and its receipt's). */
  position?: number;
  index: number;
  inputCounts?: { total: number; zero: number };
}

function gasUsed(r: TxRow): CellValue {
  if (r.receipt) return r.receipt.gasUsed;
  return r.receiptColumns ? r.receiptColumns.gasUsed[r.position ?? -1] : undefined;
}

function success(r: TxRow): boolean | null {
  if (r.receipt)
    return r.receipt.status === undefined ? null : hexNumber("success", r.receipt.status) === 1;
  const status = r.receiptColumns?.status[r.position ?? -1];
  return status === undefined || status < 0 ? null : status === 1;
}

const U64_MASK = (1n << 64n) - 1n;

/**
 * Effective gas price as cryo computes it: legacy and access-list transactions pay `gasPrice`;
 * EIP-1559 and later pay base_fee + min(max_priority_fee, max_fee − base_fee).
 */
export function effectiveGasPrice(tx: JsonTx, block: JsonBlock): bigint | null {
  const type = tx.type === undefined ? 0 : hexNumber("transaction_type", tx.type);
  if (type < 2 || tx.maxFeePerGas === undefined) {
    return tx.gasPrice === undefined ? null : parseU256("gas_price", tx.gasPrice);
  }
  const maxFee = parseU256("max_fee_per_gas", tx.maxFeePerGas) ?? 0n;
  const prio = parseU256("max_priority_fee_per_gas", tx.maxPriorityFeePerGas) ?? 0n;
  const base = parseU256("base_fee_per_gas", block.baseFeePerGas);
  if (base === null) return maxFee;
  const tip = maxFee - base < prio ? maxFee - base : prio;
  return (base + tip) & U64_MASK;
}

/** Hex strings equal up to case (no lowercase copies when they are equal as given, as usual). */
function sameHex(a: string, b: string): boolean {
  return a === b || a.toLowerCase() === b.toLowerCase();
}

/**
 * The gas_price cell: effectiveGasPrice, computed with plain numbers when every input is below
 * 2^52 (exact in a double, so the same integer), otherwise through BigInt. Legacy prices go to
 * the u64 writer as the hex string itself (it keeps the low 64 bits, like the BigInt path).
 */
function gasPriceCell(tx: JsonTx, block: JsonBlock): CellValue {
  const type = tx.type === undefined ? 0 : hexNumber("transaction_type", tx.type);
  if (type < 2 || tx.maxFeePerGas === undefined)
    return tx.gasPrice === undefined ? null : tx.gasPrice;
  const maxFee = smallQuantity(tx.maxFeePerGas);
  const prio = tx.maxPriorityFeePerGas === undefined ? 0 : smallQuantity(tx.maxPriorityFeePerGas);
  const base = block.baseFeePerGas == null ? -1 : smallQuantity(block.baseFeePerGas);
  if (maxFee < 0 || prio < 0 || (base < 0 && block.baseFeePerGas != null)) {
    return effectiveGasPrice(tx, block);
  }
  return smallEffectiveGasPrice(maxFee, prio, base);
}

/** effectiveGasPrice of an EIP-1559 fee below 2^52 (`base` -1: a block without a base fee). */
function smallEffectiveGasPrice(maxFee: number, prio: number, base: number): number {
  return base < 0 ? maxFee : base + Math.min(prio, maxFee - base);
}

/** The signature's y parity: `yParity` when given, otherwise derived from legacy/EIP-155 `v`. */
function yParity(tx: JsonTx): boolean | null {
  if (tx.yParity !== undefined) return hexNumber("v", tx.yParity) === 1;
  return tx.v === undefined ? null : parityOfV(BigInt(tx.v));
}

/** The y parity a legacy (27/28), EIP-155 (35 + 2·chainId + parity) or bare (0/1) `v` carries. */
function parityOfV(v: bigint): boolean {
  if (v === 0n || v === 1n) return v === 1n;
  if (v === 27n || v === 28n) return v === 28n;
  return (v - 35n) % 2n === 1n;
}

/** Three columns use the input's byte counts: count them once per row. */
function inputBytes(r: TxRow) {
  r.inputCounts ??= countBytes("input", r.tx.input);
  return r.inputCounts;
}

/** A unit whose transactions came as columns (see `columnarRows`). */
type ColumnarUnit = TxUnit & { txs: TxColumns };

/** Each column twice: `get` reads a row of objects, `bulk` the same column of a ColumnarUnit. */
const columns: ColumnSpec<TxRow>[] = [
  {
    name: "block_number",
    kind: "u32",
    get: (r) => r.block.number,
    bulk: (u: ColumnarUnit) => cells(repeat(u.txs.count, u.block.number)),
  },
  {
    name: "transaction_index",
    kind: "u64",
    get: (r) => r.index,
    // The decoder checked every transactionIndex to be the transaction's position.
    bulk: (u: ColumnarUnit) => cells(Float64Array.from({ length: u.txs.count }, (_, i) => i)),
  },
  {
    name: "transaction_hash",
    kind: "binary",
    get: (r) => r.tx.hash,
    bulk: (u: ColumnarUnit) => fixed(u.txs.hash, 32),
  },
  {
    name: "nonce",
    kind: "u64",
    get: (r) => r.tx.nonce,
    bulk: (u: ColumnarUnit) => cells(u.txs.nonce.subarray(0, u.txs.count)),
  },
  {
    name: "from_address",
    kind: "binary",
    get: (r) => r.tx.from,
    bulk: (u: ColumnarUnit) => fixed(u.txs.from, 20),
  },
  {
    name: "to_address",
    kind: "binary",
    get: (r) => r.tx.to,
    bulk: (u: ColumnarUnit) => fixed(u.txs.to, 20, u.txs.toPresent.subarray(0, u.txs.count)),
  },
  {
    name: "value",
    kind: "u256",
    get: (r) => r.tx.value,
    bulk: (u: ColumnarUnit) => cells(u.txs.value),
  },
  {
    name: "input",
    kind: "binary",
    get: (r) => r.tx.input,
    bulk: (u: ColumnarUnit) => ({
      kind: "bytes",
      data: u.txs.input,
      start: 0,
      ends: u.txs.inputEnd.subarray(0, u.txs.count),
    }),
  },
  {
    name: "gas_limit",
    kind: "u64",
    get: (r) => r.tx.gas,
    bulk: (u: ColumnarUnit) => cells(u.txs.gas.subarray(0, u.txs.count)),
  },
  {
    name: "gas_used",
    kind: "u64",
    get: gasUsed,
    bulk: (u: ColumnarUnit) => cells(gasUsedCells(u)),
  },
  {
    name: "gas_price",
    kind: "u64",
    get: (r) => gasPriceCell(r.tx, r.block),
    bulk: (u: ColumnarUnit) => cells(gasPriceCells(u)),
  },
  {
    name: "transaction_type",
    kind: "u32",
    get: (r) => r.tx.type ?? 0,
    bulk: (u: ColumnarUnit) => ({ kind: "u32", values: u.txs.type.subarray(0, u.txs.count) }),
  },
  {
    name: "max_priority_fee_per_gas",
    kind: "u64",
    get: (r) => r.tx.maxPriorityFeePerGas,
    bulk: (u: ColumnarUnit) => cells(orNull(u.txs.maxPriorityFeePerGas, u.txs.count)),
  },
  {
    name: "max_fee_per_gas",
    kind: "u64",
    get: (r) => r.tx.maxFeePerGas,
    bulk: (u: ColumnarUnit) => cells(orNull(u.txs.maxFeePerGas, u.txs.count)),
  },
  {
    name: "success",
    kind: "bool",
    get: success,
    bulk: (u: ColumnarUnit) => cells(successCells(u)),
  },
  {
    name: "n_input_bytes",
    kind: "u32",
    get: (r) => inputBytes(r).total,
    bulk: (u: ColumnarUnit) => inputCounts(u.txs, "total"),
  },
  {
    name: "n_input_zero_bytes",
    kind: "u32",
    get: (r) => inputBytes(r).zero,
    bulk: (u: ColumnarUnit) => inputCounts(u.txs, "zero"),
  },
  {
    name: "n_input_nonzero_bytes",
    kind: "u32",
    get: (r) => {
      const { total, zero } = inputBytes(r);
      return total - zero;
    },
    bulk: (u: ColumnarUnit) => inputCounts(u.txs, "nonzero"),
  },
  // EIP-2718 encoded length, rebuilt from the JSON fields (null for types cryo cannot encode).
  {
    name: "n_rlp_bytes",
    kind: "u32",
    get: (r) => transactionRlpLength(r.tx),
    bulk: (u: ColumnarUnit) => cells(rlpCells(u.txs)),
  },
  {
    name: "block_hash",
    kind: "binary",
    get: (r) => r.block.hash,
    bulk: (u: ColumnarUnit) => cells(repeat(u.txs.count, u.block.hash)),
  },
  {
    name: "timestamp",
    kind: "u32",
    get: (r) => r.block.timestamp,
    bulk: (u: ColumnarUnit) => cells(repeat(u.txs.count, u.block.timestamp)),
  },
  {
    name: "r",
    kind: "binary",
    get: (r) => padQuantity("r", r.tx.r, 32),
    bulk: (u: ColumnarUnit) => fixed(u.txs.r, 32, signaturePresent(u.txs, 1)),
  },
  {
    name: "s",
    kind: "binary",
    get: (r) => padQuantity("s", r.tx.s, 32),
    bulk: (u: ColumnarUnit) => fixed(u.txs.s, 32, signaturePresent(u.txs, 2)),
  },
  {
    name: "v",
    kind: "bool",
    get: (r) => yParity(r.tx),
    bulk: (u: ColumnarUnit) =>
      cells(
        Array.from(u.txs.yParity.subarray(0, u.txs.count), (p, i) => {
          if (!Number.isNaN(p)) return p === 1;
          const v = u.txs.v[i] as number;
          return Number.isNaN(v) ? null : parityOfV(BigInt(v));
        }),
      ),
  },
  {
    name: "chain_id",
    kind: "u64",
    get: (_r, ctx) => ctx.chainId,
    bulk: (_u: ColumnarUnit, ctx) => ({ kind: "u64-constant", value: ctx.chainId }),
  },
];

// The bulk getters' helpers. Each gives the cells the row path would give for the same block.
const cells = (values: ArrayLike<CellValue>): BulkValues => ({ kind: "cells", values });
const repeat = (n: number, v: CellValue): CellValue[] => new Array<CellValue>(n).fill(v);
const fixed = (data: Uint8Array, width: number, present?: Uint8Array): BulkValues => ({
  kind: "fixed-bytes",
  data,
  start: 0,
  width,
  ...(present ? { present } : {}),
});

function orNull(values: Float64Array, n: number): (number | null)[] {
  return Array.from(values.subarray(0, n), (x) => (Number.isNaN(x) ? null : x));
}

function signaturePresent(txs: TxColumns, bit: number): Uint8Array {
  return txs.sigPresent.subarray(0, txs.count).map((p) => (p & bit ? 1 : 0));
}

function inputCounts(txs: TxColumns, which: "total" | "zero" | "nonzero"): BulkValues {
  const values = new Uint32Array(txs.count);
  for (let i = 0; i < txs.count; i++) {
    const total = (txs.inputEnd[i] as number) - (i === 0 ? 0 : (txs.inputEnd[i - 1] as number));
    const zero = txs.inputZeros[i] as number;
    values[i] = which === "total" ? total : which === "zero" ? zero : total - zero;
  }
  return { kind: "u32", values };
}

function rlpCells(txs: TxColumns): (number | null)[] {
  return Array.from(txs.rlpLength.subarray(0, txs.count), (n, i) => {
    if (n === -2) throw badValue(`n_rlp_bytes (${txs.rlpMissing.get(i)})`, undefined);
    return n < 0 ? null : n;
  });
}

function gasUsedCells({ txs, receipts }: ColumnarUnit): ArrayLike<CellValue> {
  if (receipts instanceof ReceiptColumns) return receipts.gasUsed.subarray(0, txs.count);
  return receipts ? receipts.map((r) => r.gasUsed) : repeat(txs.count, null);
}

function successCells({ txs, receipts }: ColumnarUnit): (boolean | null)[] {
  if (receipts instanceof ReceiptColumns)
    return Array.from(receipts.status.subarray(0, txs.count), (s) => (s < 0 ? null : s === 1));
  return receipts
    ? receipts.map((r) => (r.status === undefined ? null : hexNumber("success", r.status) === 1))
    : (repeat(txs.count, null) as null[]);
}

/** gasPriceCell's number path (the decoder took only fees and a base fee below 2^52). */
function gasPriceCells({ txs, block }: ColumnarUnit): (number | null)[] {
  const base = block.baseFeePerGas == null ? -1 : smallQuantity(block.baseFeePerGas);
  const out: (number | null)[] = [];
  for (let i = 0; i < txs.count; i++) {
    const maxFee = txs.maxFeePerGas[i] as number;
    if ((txs.type[i] as number) < 2 || Number.isNaN(maxFee)) {
      const price = txs.gasPrice[i] as number;
      out.push(Number.isNaN(price) ? null : price);
      continue;
    }
    const tip = txs.maxPriorityFeePerGas[i] as number;
    out.push(smallEffectiveGasPrice(maxFee, Number.isNaN(tip) ? 0 : tip, base));
  }
  return out;
}

const RECEIPT_COLUMNS = ["gas_used", "success"];

export const transactions: DatasetDef<TxUnit, TxRow> = {
  name: "transactions",
  aliases: ["txs"],
  columns,
  defaults: [
    "block_number",
    "transaction_index",
    "transaction_hash",
    "nonce",
    "from_address",
    "to_address",
    "value",
    "input",
    "gas_limit",
    "gas_used",
    "gas_price",
    "transaction_type",
    "max_priority_fee_per_gas",
    "max_fee_per_gas",
    "success",
    "n_input_bytes",
    "n_input_zero_bytes",
    "n_input_nonzero_bytes",
    "chain_id",
  ],
  async fetch(rpc: BlockRpc, numbers: number[], needs: FetchNeeds) {
    const withReceipts = RECEIPT_COLUMNS.some((c) => needs.columns.has(c));
    if (needs.columnar && rpc.getTransactionBlocks) {
      const res = await rpc.getTransactionBlocks(numbers, withReceipts, { signal: needs.signal });
      return res.map((r) => ({
        block: r.block as JsonBlock,
        receipts: r.receipts as JsonReceipt[] | ReceiptColumns | null,
        txs: r.txs,
      }));
    }
    if (withReceipts) {
      if (needs.columnar && rpc.getBlocksWithReceiptColumns) {
        const res = await rpc.getBlocksWithReceiptColumns(numbers, { signal: needs.signal });
        return res.map((r) => ({
          block: r.block as JsonBlock,
          receipts: r.receipts as JsonReceipt[] | ReceiptColumns,
        }));
      }
      const res = await rpc.getBlocksWithReceipts(numbers, { signal: needs.signal });
      return res.map((r) => ({
        block: r.block as JsonBlock,
        receipts: r.receipts as JsonReceipt[],
      }));
    }
    const blocks = (await rpc.getBlocks(numbers, true, { signal: needs.signal })) as JsonBlock[];
    return blocks.map((block) => ({ block, receipts: null }));
  },
  rows({ block, receipts, txs }) {
    if (txs) {
      // Every column has a bulk getter, so a layout always appends such units in bulk.
      throw new FatalError("transactions fetched as columns are appended in bulk, not as rows", {
        category: "internal",
      });
    }
    const rows: TxRow[] = block.transactions.map((tx, i) => {
      if (typeof tx === "string") {
        throw new FatalError(
          `block ${block.number} returned transaction hashes, not full transactions`,
          { category: "invalid_rpc_response" },
        );
      }
      const index =
        tx.transactionIndex === undefined || tx.transactionIndex === null
          ? i
          : hexNumber("transaction_index", tx.transactionIndex);
      // Columns were checked against the block's transactions by the RPC client.
      return receipts instanceof ReceiptColumns
        ? { tx, block, index, position: i, receipt: undefined, receiptColumns: receipts }
        : { tx, block, index, position: i, receipt: receipts?.[i], receiptColumns: undefined };
    });
    for (const r of rows) {
      if (r.receipt && !sameHex(r.receipt.transactionHash, r.tx.hash)) {
        throw new FatalError(
          `receipt ${r.index} of block ${block.number} is for transaction ${r.receipt.transactionHash}, not ${r.tx.hash}`,
          { category: "invalid_rpc_response" },
        );
      }
    }
    // Stable sort by transaction_index (nodes return them in order; this makes it a guarantee).
    return rows.sort((a, b) => a.index - b.index);
  },
  columnarRows: (unit) => (unit.txs ? { rows: unit, count: unit.txs.count } : undefined),
};
