import { FatalError } from "../core/errors.ts";

/**
 * cryo's file naming (crates/freeze/src/types/files.rs, chunks/number_chunk.rs):
 * `{network}__{dataset}__{start:08}_to_{end_inclusive:08}.parquet`. Numbers are zero-padded to at
 * least 8 digits and never truncated.
 */

/** cryo's `parse_network_name` table; any other chain is `network_{chain_id}`. */
const NETWORK_NAMES: Record<number, string> = {
  1: "ethereum",
  5: "goerli",
  10: "optimism",
  56: "bnb",
  69: "optimism_kovan",
  100: "gnosis",
  137: "polygon",
  420: "optimism_goerli",
  1101: "polygon_zkevm",
  1442: "polygon_zkevm_testnet",
  8453: "base",
  10200: "gnosis_chidao",
  17000: "holesky",
  42161: "arbitrum",
  42170: "arbitrum_nova",
  43114: "avalanche",
  80001: "polygon_mumbai",
  84531: "base_goerli",
  7777777: "zora",
  11155111: "sepolia",
};

export function networkName(chainId: number): string {
  return NETWORK_NAMES[chainId] ?? `network_${chainId}`;
}

const pad = (n: number) => String(n).padStart(8, "0");

export function chunkFileName(
  network: string,
  dataset: string,
  start: number,
  endInclusive: number,
): string {
  return `${network}__${dataset}__${pad(start)}_to_${pad(endInclusive)}.parquet`;
}

export interface BlockChunk {
  start: number;
  /** Inclusive, as in cryo's labels. */
  end: number;
}

export const DEFAULT_CHUNK_SIZE = 1000;

/**
 * Cut `[start, endExclusive)` into consecutive chunks of `chunkSize` blocks starting at `start`
 * (not aligned); the last one is shorter. Same as cryo's `range_to_chunks`.
 */
export function blockChunks(start: number, endExclusive: number, chunkSize: number): BlockChunk[] {
  for (const [name, v] of [
    ["range start", start],
    ["range end", endExclusive],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new FatalError(`${name} must be a non-negative integer, got ${v}`, {
        category: "invalid_options",
      });
    }
  }
  if (endExclusive <= start) {
    throw new FatalError(`empty block range ${start}:${endExclusive} (the end is exclusive)`, {
      category: "invalid_options",
    });
  }
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new FatalError(`chunk size must be a positive integer, got ${chunkSize}`, {
      category: "invalid_options",
    });
  }
  const out: BlockChunk[] = [];
  for (let s = start; s < endExclusive; s += chunkSize) {
    out.push({ start: s, end: Math.min(endExclusive, s + chunkSize) - 1 });
  }
  return out;
}
