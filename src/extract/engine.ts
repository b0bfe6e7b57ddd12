import { classify, errorCategory, FatalError, RetryableError } from "../core/errors.ts";
import type { PutResult } from "../core/types.ts";
import {
  type AnyDataset,
  type BlockRpc,
  compileLayout,
  getDataset,
  selectColumns,
} from "../datasets/index.ts";
import { encodeParquet } from "../parquet/encoder.ts";
import { type BlockChunk, blockChunks, chunkFileName, networkName } from "./naming.ts";
import { type DatasetOptions, resolveOptions } from "./options.ts";
import { abortError, prefetchUnits } from "./prefetch.ts";

/**
 * The in-process "cryo as a library": one dataset over one block range, rpc → rows → Arrow →
 * Parquet → destination, one file per chunk. Fetching runs ahead of encoding (bounded), and the
 * encoder is pulled by the destination's upload, so all stages overlap with backpressure and
 * memory does not grow with the range.
 */

export const PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet";

/** Rows per Arrow record batch handed to the encoder (and its byte bound). */
const BATCH_ROWS = 16_384;
const BATCH_BYTES = 16 * 1024 * 1024;

export interface ExtractedFile {
  /** cryo file name, e.g. `ethereum__logs__18000000_to_18000999.parquet`. */
  name: string;
  key: string;
  rows: number;
  size: number;
  sha256: string;
  /** First and last block (inclusive) of the chunk. */
  blocks: [number, number];
}

export interface ExtractProgress {
  dataset: string;
  blocksDone: number;
  blocksTotal: number;
  rows: number;
  /** Set when a file was just completed. */
  file?: ExtractedFile;
  /** Set when a chunk was skipped because its file exists. */
  skipped?: string;
}

export interface ExtractionJob {
  rpc: BlockRpc;
  /** blocks | transactions | txs | logs | events */
  dataset: string;
  chainId: number;
  /** [start, endExclusive), like cryo's `--blocks a:b`. */
  range: readonly [number, number];
  options?: DatasetOptions;
  signal?: AbortSignal;
  onProgress?: (p: ExtractProgress) => void;
  /** Writes one file; consumes `body` to the end (or throws). */
  write(name: string, body: AsyncIterable<Uint8Array>): Promise<PutResult>;
  /** When given and true for a chunk's file name, the chunk is skipped (cryo without --overwrite). */
  exists?(name: string): Promise<boolean>;
  /**
   * Like cryo: a failed chunk is recorded in `failed` and the remaining chunks are still
   * extracted (an abort still stops everything). Default false: the first failure throws, which
   * is what a caller publishing one all-or-nothing version wants.
   */
  continueAfterChunkFailure?: boolean;
}

export interface FailedChunk {
  name: string;
  blocks: [number, number];
  /** The classified chunk error (see chunkError). */
  error: RetryableError | FatalError;
}

export interface ExtractionResult {
  files: ExtractedFile[];
  skipped: string[];
  /** Only non-empty with `continueAfterChunkFailure`. */
  failed: FailedChunk[];
}

/** A chunk failure: keeps the cause's class and category, names the chunk. */
export function chunkError(name: string, cause: unknown): RetryableError | FatalError {
  // The cause chain carries the details; describeError() renders "chunk … failed: cause: …".
  const message = `chunk ${name} failed`;
  const options = { category: errorCategory(cause), cause };
  return classify(cause) === "retryable"
    ? new RetryableError(message, options)
    : new FatalError(message, options);
}

export interface PlannedChunk extends BlockChunk {
  name: string;
}

export function planChunks(
  dataset: AnyDataset,
  chainId: number,
  range: readonly [number, number],
  chunkSize: number,
): PlannedChunk[] {
  const network = networkName(chainId);
  return blockChunks(range[0], range[1], chunkSize).map((c) => ({
    ...c,
    name: chunkFileName(network, dataset.name, c.start, c.end),
  }));
}

export async function runExtraction(job: ExtractionJob): Promise<ExtractionResult> {
  const def = getDataset(job.dataset);
  if (!Number.isSafeInteger(job.chainId) || job.chainId < 1) {
    throw new FatalError(`chain id must be a positive integer, got ${job.chainId}`, {
      category: "invalid_options",
    });
  }
  const opts = resolveOptions(job.options);
  const selected = selectColumns(def, opts.selection);
  const layout = compileLayout(def, selected, { hex: opts.hex, u256Types: opts.u256Types });
  const planned = planChunks(def, job.chainId, job.range, opts.chunkSize);
  const blocksTotal = job.range[1] - job.range[0];
  const signal = job.signal;
  if (signal?.aborted) throw abortError(signal);

  const skipped: string[] = [];
  const todo: PlannedChunk[] = [];
  let blocksDone = 0;
  let rowsDone = 0;
  for (const c of planned) {
    if (job.exists && (await job.exists(c.name))) {
      skipped.push(c.name);
      blocksDone += c.end - c.start + 1;
      job.onProgress?.({
        dataset: def.name,
        blocksDone,
        blocksTotal,
        rows: rowsDone,
        skipped: c.name,
      });
    } else todo.push(c);
  }

  const needs = { columns: new Set(selected), innerRequestSize: opts.innerRequestSize };
  const groupSize =
    def.name === "logs"
      ? Math.max(opts.fetchGroupSize, opts.innerRequestSize)
      : opts.fetchGroupSize;
  // One prefetch stream runs ahead across chunks. A failed chunk leaves it somewhere inside that
  // chunk (or broken), so continuing restarts it at the next chunk.
  const prefetchFrom = (index: number) =>
    prefetchUnits(def, job.rpc, todo.slice(index), needs, {
      groupSize,
      maxBlocksInFlight: Math.max(opts.maxBlocksInFlight, groupSize),
      signal,
    });
  let units = prefetchFrom(0);
  const ctx = { chainId: job.chainId };
  const files: ExtractedFile[] = [];
  const failed: FailedChunk[] = [];
  try {
    for (let index = 0; index < todo.length; index++) {
      const chunk = todo[index] as PlannedChunk;
      const chunkBlocks = chunk.end - chunk.start + 1;
      let failure: { error: unknown } | undefined;
      let rows = 0;
      let chunkBlocksDone = 0;
      const source = units;
      async function* batches() {
        try {
          for (let b = chunk.start; b <= chunk.end; b++) {
            const next = await source.next();
            if (next.done)
              throw new FatalError(`fetch ended before block ${b}`, { category: "internal" });
            for (const row of def.rows(next.value)) {
              layout.append(row, ctx);
              rows++;
            }
            blocksDone++;
            chunkBlocksDone++;
            if (layout.rows >= BATCH_ROWS || layout.byteSize >= BATCH_BYTES)
              yield layout.takeBatch();
            job.onProgress?.({ dataset: def.name, blocksDone, blocksTotal, rows: rowsDone + rows });
          }
          if (layout.rows > 0) yield layout.takeBatch();
        } catch (error) {
          failure = { error };
          throw error;
        }
      }
      const body = encodeParquet(layout.schema, batches(), {
        compression: opts.compression,
        rowGroupSize: opts.rowGroupSize,
        statistics: opts.statistics,
      });
      let error: RetryableError | FatalError | undefined;
      let put: PutResult | undefined;
      try {
        put = await job.write(chunk.name, body);
        if (failure) error = chunkError(chunk.name, failure.error);
      } catch (writeError) {
        error = chunkError(chunk.name, failure ? failure.error : writeError);
      }
      if (signal?.aborted) throw chunkError(chunk.name, abortError(signal));
      if (error || !put) {
        const chunkFailure = error ?? chunkError(chunk.name, new Error("no write result"));
        if (!job.continueAfterChunkFailure) throw chunkFailure;
        failed.push({ name: chunk.name, blocks: [chunk.start, chunk.end], error: chunkFailure });
        // Drop half-built rows, count the chunk's blocks as done, and restart fetching after it.
        if (layout.rows > 0) layout.takeBatch();
        blocksDone += chunkBlocks - chunkBlocksDone;
        await units.return(undefined);
        units = prefetchFrom(index + 1);
        continue;
      }
      rowsDone += rows;
      const file: ExtractedFile = {
        name: chunk.name,
        key: put.key,
        rows,
        size: put.size,
        sha256: put.sha256,
        blocks: [chunk.start, chunk.end],
      };
      files.push(file);
      job.onProgress?.({ dataset: def.name, blocksDone, blocksTotal, rows: rowsDone, file });
    }
  } finally {
    await units.return(undefined);
  }
  return { files, skipped, failed };
}
