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

  const needs = {
    columns: new Set(selected),
    innerRequestSize: opts.innerRequestSize,
    ...(job.signal ? { signal: job.signal } : {}),
  };
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

  /** One chunk's file being written: rows → encoder → destination. */
  interface Running {
    chunk: PlannedChunk;
    index: number;
    rows: number;
    chunkBlocksDone: number;
    /** Every row was handed to the encoder: the layout is free for the next chunk. */
    rowsComplete: boolean;
    rowsDone: Promise<void>;
    /** Settles (never rejects) when the write ended. */
    written: Promise<{ put?: PutResult; error?: RetryableError | FatalError }>;
    /** Makes a chunk still building rows fail, so that it leaves no file. */
    cancel(): void;
  }

  const start = (chunk: PlannedChunk, index: number): Running => {
    const source = units;
    let failure: { error: unknown } | undefined;
    let cancelled = false;
    let markRowsDone = () => {};
    const run: Running = {
      chunk,
      index,
      rows: 0,
      chunkBlocksDone: 0,
      rowsComplete: false,
      rowsDone: new Promise<void>((resolve) => {
        markRowsDone = resolve;
      }),
      written: Promise.resolve({}),
      cancel: () => {
        cancelled = true;
      },
    };
    const stopIfCancelled = () => {
      if (cancelled) {
        throw new RetryableError("cancelled: an earlier chunk failed", { category: "aborted" });
      }
    };
    async function* batches() {
      try {
        for (let b = chunk.start; b <= chunk.end; b++) {
          stopIfCancelled();
          const next = await source.next();
          stopIfCancelled();
          if (next.done)
            throw new FatalError(`fetch ended before block ${b}`, { category: "internal" });
          for (const row of def.rows(next.value)) {
            layout.append(row, ctx);
            run.rows++;
          }
          blocksDone++;
          run.chunkBlocksDone++;
          if (layout.rows >= BATCH_ROWS || layout.byteSize >= BATCH_BYTES) yield layout.takeBatch();
          job.onProgress?.({
            dataset: def.name,
            blocksDone,
            blocksTotal,
            rows: rowsDone + run.rows,
          });
        }
        if (layout.rows > 0) yield layout.takeBatch();
        run.rowsComplete = true;
        markRowsDone();
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
    run.written = job.write(chunk.name, body).then(
      (put) => (failure ? { error: chunkError(chunk.name, failure.error) } : { put }),
      (writeError) => ({ error: chunkError(chunk.name, failure ? failure.error : writeError) }),
    );
    return run;
  };

  /** Waits for a chunk's write and records it; throws unless failures are to be skipped. */
  const settle = async (run: Running): Promise<void> => {
    const { chunk } = run;
    const { put, error } = await run.written;
    if (signal?.aborted) throw chunkError(chunk.name, abortError(signal));
    if (error || !put) {
      const chunkFailure = error ?? chunkError(chunk.name, new Error("no write result"));
      if (!job.continueAfterChunkFailure) throw chunkFailure;
      failed.push({ name: chunk.name, blocks: [chunk.start, chunk.end], error: chunkFailure });
      blocksDone += chunk.end - chunk.start + 1 - run.chunkBlocksDone;
      if (!run.rowsComplete) {
        // It stopped inside its blocks: drop half-built rows and restart fetching after it.
        layout.discardBatch();
        await units.return(undefined);
        units = prefetchFrom(run.index + 1);
      }
      return;
    }
    rowsDone += run.rows;
    const file: ExtractedFile = {
      name: chunk.name,
      key: put.key,
      rows: run.rows,
      size: put.size,
      sha256: put.sha256,
      blocks: [chunk.start, chunk.end],
    };
    files.push(file);
    job.onProgress?.({ dataset: def.name, blocksDone, blocksTotal, rows: rowsDone, file });
  };

  // At most two chunks are open: the next one starts as soon as the previous one's rows are all
  // with its encoder, so that one's last row group, footer and upload completion overlap with
  // fetching and building the next instead of stalling the prefetch window.
  let previous: Running | undefined;
  let current: Running | undefined;
  try {
    for (let index = 0; index < todo.length; index++) {
      current = start(todo[index] as PlannedChunk, index);
      if (previous) {
        // Settle the previous file as soon as it ends (a failure then stops this chunk early).
        await Promise.race([current.rowsDone, current.written, previous.written]);
        await settle(previous);
        previous = undefined;
      }
      await Promise.race([current.rowsDone, current.written]);
      if (current.rowsComplete) previous = current;
      else await settle(current);
      current = undefined;
    }
    if (previous) await settle(previous);
    previous = undefined;
  } catch (error) {
    // Nothing may still be writing once this returns: stop and wait for open chunks.
    for (const run of [previous, current]) {
      if (!run) continue;
      run.cancel();
      await run.written;
    }
    throw error;
  } finally {
    await units.return(undefined);
  }
  return { files, skipped, failed };
}
