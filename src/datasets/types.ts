/**
 * Dataset definitions: which RPC calls a dataset makes, how one block's responses become rows,
 * and the exact cryo column list (struct order = file order).
 *
 * The RPC layer (src/rpc/) hands over JSON-RPC objects with hex strings exactly as the node sent
 * them; the row builders parse hex directly into column buffers. Logs and receipts may instead
 * come already decoded into columns (LogColumns, ReceiptColumns, TxColumns; see
 * FetchNeeds.columnar), which the logs and transactions datasets append in bulk.
 */

import type { LogColumns } from "../rpc/log-columns.ts";
import type { ReceiptColumns } from "../rpc/receipts-decode.ts";
import type { TxColumns } from "../rpc/tx-columns.ts";

/** The subset of the RPC client a dataset needs (src/rpc/ RpcClient satisfies it). */
export interface BlockRpc {
  getBlocks(
    numbers: number[],
    fullTransactions: boolean,
    opts?: RpcCallOptions,
  ): Promise<readonly object[]>;
  getBlocksWithReceipts(
    numbers: number[],
    opts?: RpcCallOptions,
  ): Promise<readonly { block: object; receipts: readonly object[] }[]>;
  /** eth_getLogs for each filter (batched), one list of logs per filter. */
  getLogsMany(
    filters: readonly {
      fromBlock: number;
      toBlock: number;
      address?: string | string[];
      topics?: (string | string[] | null)[];
    }[],
    opts?: RpcCallOptions,
  ): Promise<readonly (readonly object[])[]>;
  /**
   * getBlocksWithReceipts, except that a block's receipts may come as ReceiptColumns (decoded
   * from the response bytes; see src/rpc/receipts-decode.ts). Optional, like getLogsColumnar.
   */
  getBlocksWithReceiptColumns?(
    numbers: number[],
    opts?: RpcCallOptions,
  ): Promise<readonly { block: object; receipts: readonly object[] | ReceiptColumns }[]>;
  /**
   * getLogsMany's logs as columns, each list in (block, logIndex) order (RpcClient decodes them
   * from the response bytes; see src/rpc/logs-decode.ts). Optional: without it, the logs
   * dataset uses getLogsMany.
   */
  getLogsColumnar?(
    filters: readonly { fromBlock: number; toBlock: number }[],
    opts?: RpcCallOptions,
  ): Promise<readonly LogColumns[]>;
  /**
   * getBlocks(numbers, false) without the transaction hashes (RpcClient decodes the headers
   * from the response bytes; see src/rpc/blocks-decode.ts). Optional, like getLogsColumnar.
   */
  getBlockHeaders?(numbers: number[], opts?: RpcCallOptions): Promise<readonly object[]>;
  /**
   * Full blocks (and their receipts when `receipts`), a block's transactions as TxColumns when
   * they were decoded from the response bytes (`txs`), otherwise in `block` as getBlocks gives
   * them. Optional, like getLogsColumnar.
   */
  getTransactionBlocks?(
    numbers: number[],
    receipts: boolean,
    opts?: RpcCallOptions,
  ): Promise<
    readonly {
      block: object;
      txs: TxColumns | undefined;
      receipts: readonly object[] | ReceiptColumns | null;
    }[]
  >;
}

/** `signal`: the extraction was aborted; its RPC calls stop (queued, in flight or retrying). */
export interface RpcCallOptions {
  signal?: AbortSignal;
}

export type Hex = string;

export interface JsonTx {
  hash: Hex;
  nonce: Hex;
  blockHash?: Hex | null;
  blockNumber?: Hex | null;
  transactionIndex?: Hex | null;
  from: Hex;
  to?: Hex | null;
  value: Hex;
  gas: Hex;
  gasPrice?: Hex;
  maxFeePerGas?: Hex;
  maxPriorityFeePerGas?: Hex;
  input: Hex;
  type?: Hex;
  r?: Hex;
  s?: Hex;
  v?: Hex;
  yParity?: Hex;
}

export interface JsonBlock {
  number: Hex;
  hash: Hex;
  parentHash: Hex;
  sha3Uncles: Hex;
  miner: Hex;
  stateRoot: Hex;
  transactionsRoot: Hex;
  receiptsRoot: Hex;
  logsBloom: Hex;
  difficulty: Hex;
  totalDifficulty?: Hex | null;
  gasLimit: Hex;
  gasUsed: Hex;
  timestamp: Hex;
  extraData: Hex;
  mixHash?: Hex;
  nonce?: Hex;
  size?: Hex;
  baseFeePerGas?: Hex | null;
  withdrawalsRoot?: Hex | null;
  uncles?: Hex[];
  transactions: (JsonTx | Hex)[];
}

export interface JsonLog {
  address: Hex;
  topics: Hex[];
  data: Hex;
  blockNumber?: Hex | null;
  blockHash?: Hex | null;
  transactionHash?: Hex | null;
  transactionIndex?: Hex | null;
  logIndex?: Hex | null;
  removed?: boolean;
}

export interface JsonReceipt {
  transactionHash: Hex;
  transactionIndex: Hex;
  blockHash: Hex;
  blockNumber: Hex;
  gasUsed: Hex;
  effectiveGasPrice?: Hex;
  status?: Hex;
  logs: JsonLog[];
}

/**
 * Value kinds of cryo's dataset structs. `u256` expands into `x_binary`, `x_string`, `x_f32`,
 * `x_f64`, `x_u32`, `x_u64` per `--u256-types`; `binary` becomes a 0x string under `--hex`.
 */
export type ValueKind = "u32" | "u64" | "bool" | "f64" | "string" | "binary" | "u256";

/**
 * What a getter may return: a JSON-RPC hex string (quantity or data), a number/bigint already
 * computed, a boolean, or null/undefined for a null cell.
 */
export type CellValue = string | number | bigint | boolean | null | undefined;

export interface ColumnSpec<R> {
  /** Base name (u256 columns get their suffixes from the selected u256 types). */
  name: string;
  kind: ValueKind;
  get(row: R, ctx: RowContext): CellValue;
  /**
   * The column's values for a unit whose rows come as columns (DatasetDef.columnarRows), all
   * at once. A layout appends such units in bulk only when every selected column has this.
   */
  bulk?(rows: never, ctx: RowContext): BulkValues;
}

/**
 * A column's values for `count` rows, already decoded (see ColumnSpec.bulk):
 * - `u32`: one number per row;
 * - `u64-constant`: the same number in every row;
 * - `fixed-bytes`: `width` bytes per row, row i at `data[start + i·width]`; rows whose
 *   `present` entry is 0 are null;
 * - `bytes`: row i is `data[ends[i-1] (or start), ends[i])`;
 * - `cells`: one cell per row, of any value a `get` may return, written as the row path writes
 *   it (any column kind).
 */
export type BulkValues =
  | { kind: "cells"; values: ArrayLike<CellValue> }
  | { kind: "u32"; values: Uint32Array }
  | { kind: "u64-constant"; value: number }
  | { kind: "fixed-bytes"; data: Uint8Array; start: number; width: number; present?: Uint8Array }
  | { kind: "bytes"; data: Uint8Array; start: number; ends: Uint32Array };

export interface RowContext {
  chainId: number;
}

export interface FetchNeeds {
  /** Base names of the selected columns. */
  columns: ReadonlySet<string>;
  /** Blocks per eth_getLogs request (cryo's --inner-request-size). */
  innerRequestSize: number;
  /** The extraction's abort signal, passed on to every RPC call. */
  signal?: AbortSignal;
  /**
   * The caller takes RPC answers decoded from the response bytes into columns where the client
   * can (getLogsColumnar, getBlocksWithReceiptColumns): units of logs whose rows are columns
   * (see `columnarRows`), receipts as columns. Unset, datasets use the JSON methods (a raw
   * JSON.parse baseline does so).
   */
  columnar?: boolean;
}

export interface DatasetDef<Unit, R> {
  /** Canonical name, used in file names. */
  name: string;
  aliases: readonly string[];
  /** Every column in cryo's struct order (= file order). */
  columns: readonly ColumnSpec<R>[];
  /** cryo's default column set (order irrelevant: file order is struct order). */
  defaults: readonly string[];
  /** Columns cryo has that this engine does not build; selecting one explicitly is an error. */
  unsupported?: readonly string[];
  /** Fetch the units of `numbers` (consecutive blocks), one unit per block, in block order. */
  fetch(rpc: BlockRpc, numbers: number[], needs: FetchNeeds): Promise<Unit[]>;
  /** The rows of one unit in cryo's sort order. */
  rows(unit: Unit): readonly R[];
  /**
   * For a unit fetched with `needs.columnar` whose rows came as columns: the rows' source for
   * the columns' `bulk` getters and their count (undefined for a unit of row objects).
   */
  columnarRows?(unit: Unit): { rows: unknown; count: number } | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds datasets of different row types
export type AnyDataset = DatasetDef<any, any>;
