import { FatalError } from "../core/errors.ts";
import type { LogColumns } from "../rpc/log-columns.ts";
import type { BlockRpc, BulkValues, ColumnSpec, DatasetDef, FetchNeeds, JsonLog } from "./types.ts";
import { dataLength, hexNumber } from "./values.ts";

/**
 * cryo `logs` / `events` (crates/freeze/src/datasets/logs.rs): `eth_getLogs` over ranges of
 * `--inner-request-size` blocks; one row per log, sorted by (block_number, log_index). Pending
 * logs (no block number / log index) are skipped, as in cryo. With `needs.columnar` the logs come
 * decoded into columns (RpcClient.getLogsColumnar) and are appended in bulk: no object per log.
 */
export interface LogRow {
  log: JsonLog;
  logIndex: number;
}

/** Logs [from, to) of decoded columns: one block's, in logIndex order. */
export interface LogSlice {
  cols: LogColumns;
  from: number;
  to: number;
}

export interface LogUnit {
  block: number;
  /** The block's logs as objects (getLogsMany)... */
  logs: LogRow[];
  /** ...or as columns (getLogsColumnar; then `logs` is empty). */
  columnar?: LogSlice;
}

const u32Of =
  (pick: (c: LogColumns) => Uint32Array) =>
  (s: LogSlice): BulkValues => ({ kind: "u32", values: pick(s.cols).subarray(s.from, s.to) });

const fixedOf =
  (pick: (c: LogColumns) => Uint8Array, width: number) =>
  (s: LogSlice): BulkValues => ({
    kind: "fixed-bytes",
    data: pick(s.cols),
    start: s.from * width,
    width,
  });

const topicOf =
  (t: number) =>
  (s: LogSlice): BulkValues => {
    const { cols, from, to } = s;
    let present: Uint8Array | undefined;
    for (let i = from; i < to; i++) {
      if ((cols.topicCount[i] as number) > t) continue;
      present ??= new Uint8Array(to - from).fill(1);
      present[i - from] = 0;
    }
    return {
      kind: "fixed-bytes",
      data: cols.topics[t] as Uint8Array,
      start: from * 32,
      width: 32,
      present,
    };
  };

const columns: ColumnSpec<LogRow>[] = [
  {
    name: "block_number",
    kind: "u32",
    get: (r) => r.log.blockNumber,
    bulk: u32Of((c) => c.blockNumber),
  },
  {
    name: "block_hash",
    kind: "binary",
    get: (r) => r.log.blockHash,
    bulk: fixedOf((c) => c.blockHash, 32),
  },
  {
    name: "transaction_index",
    kind: "u32",
    get: (r) => r.log.transactionIndex,
    bulk: u32Of((c) => c.transactionIndex),
  },
  { name: "log_index", kind: "u32", get: (r) => r.logIndex, bulk: u32Of((c) => c.logIndex) },
  {
    name: "transaction_hash",
    kind: "binary",
    get: (r) => r.log.transactionHash,
    bulk: fixedOf((c) => c.transactionHash, 32),
  },
  {
    name: "address",
    kind: "binary",
    get: (r) => r.log.address,
    bulk: fixedOf((c) => c.address, 20),
  },
  { name: "topic0", kind: "binary", get: (r) => r.log.topics[0], bulk: topicOf(0) },
  { name: "topic1", kind: "binary", get: (r) => r.log.topics[1], bulk: topicOf(1) },
  { name: "topic2", kind: "binary", get: (r) => r.log.topics[2], bulk: topicOf(2) },
  { name: "topic3", kind: "binary", get: (r) => r.log.topics[3], bulk: topicOf(3) },
  {
    name: "data",
    kind: "binary",
    get: (r) => r.log.data,
    bulk: (s: LogSlice): BulkValues => ({
      kind: "bytes",
      data: s.cols.data,
      start: s.cols.dataStart(s.from),
      ends: s.cols.dataEnd.subarray(s.from, s.to),
    }),
  },
  {
    name: "n_data_bytes",
    kind: "u32",
    get: (r) => dataLength("data", r.log.data),
    bulk: ({ cols, from, to }: LogSlice): BulkValues => {
      const values = new Uint32Array(to - from);
      for (let i = from; i < to; i++)
        values[i - from] = (cols.dataEnd[i] as number) - cols.dataStart(i);
      return { kind: "u32", values };
    },
  },
  {
    name: "chain_id",
    kind: "u64",
    get: (_r, ctx) => ctx.chainId,
    bulk: (_s: LogSlice, ctx): BulkValues => ({ kind: "u64-constant", value: ctx.chainId }),
  },
];

export const logs: DatasetDef<LogUnit, LogRow> = {
  name: "logs",
  aliases: ["events"],
  columns,
  defaults: columns.map((c) => c.name).filter((n) => n !== "block_hash"),
  async fetch(rpc: BlockRpc, numbers: number[], needs: FetchNeeds) {
    const first = numbers[0];
    const last = numbers[numbers.length - 1];
    if (first === undefined || last === undefined) return [];
    // cryo's inner request size: blocks per eth_getLogs call (the client batches the calls).
    const step = Math.max(1, needs.innerRequestSize);
    const filters: { fromBlock: number; toBlock: number }[] = [];
    for (let from = first; from <= last; from += step) {
      filters.push({ fromBlock: from, toBlock: Math.min(last, from + step - 1) });
    }
    const units: LogUnit[] = numbers.map((block) => ({ block, logs: [] }));
    if (needs.columnar && rpc.getLogsColumnar) {
      for (const cols of await rpc.getLogsColumnar(filters, { signal: needs.signal })) {
        // In (block, logIndex) order: one run of logs per block.
        for (let from = 0, to = 0; from < cols.count; from = to) {
          const block = cols.blockNumber[from] as number;
          while (to < cols.count && cols.blockNumber[to] === block) to++;
          const unit = units[block - first];
          if (unit === undefined || unit.block !== block || unit.columnar !== undefined) {
            throw new FatalError(
              `eth_getLogs for blocks ${first}..${last} returned a log of block ${block}`,
              { category: "invalid_rpc_response" },
            );
          }
          unit.columnar = { cols, from, to };
        }
      }
      return units;
    }
    for (const batch of await rpc.getLogsMany(filters, { signal: needs.signal })) {
      for (const raw of batch) {
        const log = raw as JsonLog;
        if (log.blockNumber == null || log.logIndex == null) continue;
        const block = hexNumber("block_number", log.blockNumber);
        const unit = units[block - first];
        if (unit === undefined || unit.block !== block) {
          throw new FatalError(
            `eth_getLogs for blocks ${first}..${last} returned a log of block ${block}`,
            { category: "invalid_rpc_response" },
          );
        }
        unit.logs.push({ log, logIndex: hexNumber("log_index", log.logIndex) });
      }
    }
    for (const u of units) u.logs.sort((a, b) => a.logIndex - b.logIndex);
    return units;
  },
  rows: (unit) => (unit.columnar ? logRowsOf(unit.columnar) : unit.logs),
  columnarRows: (unit) =>
    unit.columnar
      ? { rows: unit.columnar, count: unit.columnar.to - unit.columnar.from }
      : undefined,
};

/** Decoded logs back as row objects (for callers that want rows; extraction appends in bulk). */
function logRowsOf({ cols, from, to }: LogSlice): LogRow[] {
  const hex = (b: Uint8Array, start: number, end: number) =>
    `0x${Buffer.from(b.buffer, b.byteOffset + start, end - start).toString("hex")}`;
  const rows: LogRow[] = [];
  for (let i = from; i < to; i++) {
    const topics: string[] = [];
    for (let t = 0; t < (cols.topicCount[i] as number); t++)
      topics.push(hex(cols.topics[t] as Uint8Array, i * 32, i * 32 + 32));
    const logIndex = cols.logIndex[i] as number;
    rows.push({
      logIndex,
      log: {
        address: hex(cols.address, i * 20, i * 20 + 20),
        topics,
        data: hex(cols.data, cols.dataStart(i), cols.dataEnd[i] as number),
        blockNumber: `0x${(cols.blockNumber[i] as number).toString(16)}`,
        blockHash: hex(cols.blockHash, i * 32, i * 32 + 32),
        transactionHash: hex(cols.transactionHash, i * 32, i * 32 + 32),
        transactionIndex: `0x${(cols.transactionIndex[i] as number).toString(16)}`,
        logIndex: `0x${logIndex.toString(16)}`,
      },
    });
  }
  return rows;
}
