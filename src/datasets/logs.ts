import { FatalError } from "../core/errors.ts";
import type { BlockRpc, ColumnSpec, DatasetDef, FetchNeeds, JsonLog } from "./types.ts";
import { dataLength, hexNumber } from "./values.ts";

/**
 * cryo `logs` / `events` (crates/freeze/src/datasets/logs.rs): `eth_getLogs` over ranges of
 * `--inner-request-size` blocks; one row per log, sorted by (block_number, log_index). Pending
 * logs (no block number / log index) are skipped, as in cryo.
 */
export interface LogRow {
  log: JsonLog;
  logIndex: number;
}

export interface LogUnit {
  block: number;
  logs: LogRow[];
}

const columns: ColumnSpec<LogRow>[] = [
  { name: "block_number", kind: "u32", get: (r) => r.log.blockNumber },
  { name: "block_hash", kind: "binary", get: (r) => r.log.blockHash },
  { name: "transaction_index", kind: "u32", get: (r) => r.log.transactionIndex },
  { name: "log_index", kind: "u32", get: (r) => r.logIndex },
  { name: "transaction_hash", kind: "binary", get: (r) => r.log.transactionHash },
  { name: "address", kind: "binary", get: (r) => r.log.address },
  { name: "topic0", kind: "binary", get: (r) => r.log.topics[0] },
  { name: "topic1", kind: "binary", get: (r) => r.log.topics[1] },
  { name: "topic2", kind: "binary", get: (r) => r.log.topics[2] },
  { name: "topic3", kind: "binary", get: (r) => r.log.topics[3] },
  { name: "data", kind: "binary", get: (r) => r.log.data },
  { name: "n_data_bytes", kind: "u32", get: (r) => dataLength("data", r.log.data) },
  { name: "chain_id", kind: "u64", get: (_r, ctx) => ctx.chainId },
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
  rows: (unit) => unit.logs,
};
