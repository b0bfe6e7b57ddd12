import type { ArtifactSink } from "../core/types.ts";
import type { BlockRpc } from "../datasets/index.ts";
import { type ExtractProgress, PARQUET_CONTENT_TYPE, runExtraction } from "./engine.ts";
import type { DatasetOptions } from "./options.ts";

export interface ExtractRangeArgs {
  /** An RpcClient from src/rpc/ (anything with its getBlocks / getBlocksWithReceipts / getLogsMany). */
  rpc: BlockRpc;
  /** blocks | transactions | txs | logs | events */
  dataset: string;
  chainId: number;
  /** [start, endExclusive) */
  range: readonly [number, number];
  sink: ArtifactSink;
  options?: DatasetOptions;
  signal?: AbortSignal;
  onProgress?: (p: ExtractProgress) => void;
}

export interface ExtractRangeResult {
  files: { key: string; rows: number; size: number; sha256: string }[];
}

/**
 * Extract one dataset over `range` into `sink`: one cryo-named Parquet file per chunk, streamed
 * through `sink.putObject`. Does not write the manifest (the caller does, after every dataset of
 * the attempt succeeded). On failure throws a classified error (RetryableError / FatalError,
 * naming the chunk) and leaves aborting the sink to the caller.
 */
export async function extractRange(args: ExtractRangeArgs): Promise<ExtractRangeResult> {
  const { files } = await runExtraction({
    rpc: args.rpc,
    dataset: args.dataset,
    chainId: args.chainId,
    range: args.range,
    options: args.options,
    signal: args.signal,
    onProgress: args.onProgress,
    write: (name, body) => args.sink.putObject(name, body, { contentType: PARQUET_CONTENT_TYPE }),
  });
  return { files: files.map(({ key, rows, size, sha256 }) => ({ key, rows, size, sha256 })) };
}
