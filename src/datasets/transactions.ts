import { FatalError } from "../core/errors.ts";
import { ReceiptColumns } from "../rpc/receipts-decode.ts";
import { transactionRlpLength } from "./rlp.ts";
import type {
  BlockRpc,
  CellValue,
  ColumnSpec,
  DatasetDef,
  FetchNeeds,
  JsonBlock,
  JsonReceipt,
  JsonTx,
} from "./types.ts";
import { countBytes, hexNumber, padQuantity, parseU256, smallQuantity } from "./values.ts";

/**
 * cryo `transactions` / `txs` (crates/freeze/src/datasets/transactions.rs):
 * `eth_getBlockByNumber(n, true)`, plus `eth_getBlockReceipts(n)` when `gas_used` or `success`
 * is selected. One row per transaction, sorted by (block_number, transaction_index). With
 * `needs.columnar` the receipts may come decoded into columns (RpcClient
 * .getBlocksWithReceiptColumns): only gasUsed and status are read from them.
 */
export interface TxUnit {
  block: JsonBlock;
  /** As objects, or as columns (decoded from the response bytes; see needs.columnar). */
  receipts: JsonReceipt[] | ReceiptColumns | null;
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
  if (base < 0) return maxFee;
  return base + Math.min(prio, maxFee - base);
}

/** The signature's y parity: `yParity` when given, otherwise derived from legacy/EIP-155 `v`. */
function yParity(tx: JsonTx): boolean | null {
  if (tx.yParity !== undefined) return hexNumber("v", tx.yParity) === 1;
  if (tx.v === undefined) return null;
  const v = BigInt(tx.v);
  if (v === 0n || v === 1n) return v === 1n;
  if (v === 27n || v === 28n) return v === 28n;
  return (v - 35n) % 2n === 1n;
}

/** Three columns use the input's byte counts: count them once per row. */
function inputBytes(r: TxRow) {
  r.inputCounts ??= countBytes("input", r.tx.input);
  return r.inputCounts;
}

const columns: ColumnSpec<TxRow>[] = [
  { name: "block_number", kind: "u32", get: (r) => r.block.number },
  { name: "transaction_index", kind: "u64", get: (r) => r.index },
  { name: "transaction_hash", kind: "binary", get: (r) => r.tx.hash },
  { name: "nonce", kind: "u64", get: (r) => r.tx.nonce },
  { name: "from_address", kind: "binary", get: (r) => r.tx.from },
  { name: "to_address", kind: "binary", get: (r) => r.tx.to },
  { name: "value", kind: "u256", get: (r) => r.tx.value },
  { name: "input", kind: "binary", get: (r) => r.tx.input },
  { name: "gas_limit", kind: "u64", get: (r) => r.tx.gas },
  { name: "gas_used", kind: "u64", get: gasUsed },
  { name: "gas_price", kind: "u64", get: (r) => gasPriceCell(r.tx, r.block) },
  { name: "transaction_type", kind: "u32", get: (r) => r.tx.type ?? 0 },
  { name: "max_priority_fee_per_gas", kind: "u64", get: (r) => r.tx.maxPriorityFeePerGas },
  { name: "max_fee_per_gas", kind: "u64", get: (r) => r.tx.maxFeePerGas },
  { name: "success", kind: "bool", get: success },
  { name: "n_input_bytes", kind: "u32", get: (r) => inputBytes(r).total },
  { name: "n_input_zero_bytes", kind: "u32", get: (r) => inputBytes(r).zero },
  {
    name: "n_input_nonzero_bytes",
    kind: "u32",
    get: (r) => {
      const { total, zero } = inputBytes(r);
      return total - zero;
    },
  },
  // EIP-2718 encoded length, rebuilt from the JSON fields (null for types cryo cannot encode).
  { name: "n_rlp_bytes", kind: "u32", get: (r) => transactionRlpLength(r.tx) },
  { name: "block_hash", kind: "binary", get: (r) => r.block.hash },
  { name: "timestamp", kind: "u32", get: (r) => r.block.timestamp },
  { name: "r", kind: "binary", get: (r) => padQuantity("r", r.tx.r, 32) },
  { name: "s", kind: "binary", get: (r) => padQuantity("s", r.tx.s, 32) },
  { name: "v", kind: "bool", get: (r) => yParity(r.tx) },
  { name: "chain_id", kind: "u64", get: (_r, ctx) => ctx.chainId },
];

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
    if (RECEIPT_COLUMNS.some((c) => needs.columns.has(c))) {
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
  rows({ block, receipts }) {
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
};
