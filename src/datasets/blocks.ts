import type { BlockRpc, ColumnSpec, DatasetDef, FetchNeeds, JsonBlock } from "./types.ts";

/**
 * cryo `blocks` (crates/freeze/src/datasets/blocks.rs): one `eth_getBlockByNumber(n, false)`
 * per block, one row per block (with needs.columnar, a header decoded from the response bytes).
 */
const columns: ColumnSpec<JsonBlock>[] = [
  { name: "block_hash", kind: "binary", get: (b) => b.hash },
  { name: "parent_hash", kind: "binary", get: (b) => b.parentHash },
  // cryo stores every uncle hash concatenated (empty when there are none).
  {
    name: "uncles_hash",
    kind: "binary",
    get: (b) => `0x${(b.uncles ?? []).map((u) => u.slice(2)).join("")}`,
  },
  { name: "author", kind: "binary", get: (b) => b.miner },
  { name: "state_root", kind: "binary", get: (b) => b.stateRoot },
  { name: "transactions_root", kind: "binary", get: (b) => b.transactionsRoot },
  { name: "receipts_root", kind: "binary", get: (b) => b.receiptsRoot },
  { name: "block_number", kind: "u32", get: (b) => b.number },
  { name: "gas_used", kind: "u64", get: (b) => b.gasUsed },
  { name: "gas_limit", kind: "u64", get: (b) => b.gasLimit },
  { name: "extra_data", kind: "binary", get: (b) => b.extraData },
  { name: "logs_bloom", kind: "binary", get: (b) => b.logsBloom },
  { name: "timestamp", kind: "u32", get: (b) => b.timestamp },
  { name: "difficulty", kind: "u64", get: (b) => b.difficulty },
  { name: "total_difficulty", kind: "u256", get: (b) => b.totalDifficulty },
  { name: "size", kind: "u64", get: (b) => b.size },
  { name: "mix_hash", kind: "binary", get: (b) => b.mixHash },
  { name: "nonce", kind: "binary", get: (b) => b.nonce },
  { name: "base_fee_per_gas", kind: "u64", get: (b) => b.baseFeePerGas },
  { name: "withdrawals_root", kind: "binary", get: (b) => b.withdrawalsRoot },
  { name: "chain_id", kind: "u64", get: (_b, ctx) => ctx.chainId },
];

export const blocks: DatasetDef<JsonBlock, JsonBlock> = {
  name: "blocks",
  aliases: [],
  columns,
  defaults: [
    "block_number",
    "block_hash",
    "timestamp",
    "author",
    "gas_used",
    "extra_data",
    "base_fee_per_gas",
    "chain_id",
  ],
  async fetch(rpc: BlockRpc, numbers: number[], needs: FetchNeeds) {
    // No column reads the transaction hashes: with needs.columnar, only the header is decoded.
    const blocks =
      needs.columnar && rpc.getBlockHeaders
        ? await rpc.getBlockHeaders(numbers, { signal: needs.signal })
        : await rpc.getBlocks(numbers, false, { signal: needs.signal });
    return blocks as JsonBlock[];
  },
  rows: (block) => [block],
};
