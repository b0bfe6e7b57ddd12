import type { RecordBatch } from "apache-arrow";
import { classify, errorCategory, FatalError, RetryableError } from "../core/errors.ts";
import type { PutResult } from "../core/types.ts";
import {
  type AnyDataset,
  type BlockRpc,
  compileLayout,
  getDataset,
  type RowLayout,
  selectColumns,
} from "../datasets/index.ts";
import { encodeParquet } from "../parquet/encoder.ts";
import { type BlockChunk, blockChunks, chunkFileName, networkName } from "./naming.ts";
import { type DatasetOptions, resolveOptions } from "./options.ts";
import { abortError, prefetchGroups } from "./prefetch.ts";

/**
 * The in-process "cryo as a library": one dataset over one block range, rpc → rows → Arrow →
 * Parquet → destination, one file per chunk. Fetching runs ahead of encoding (bounded), and the
 * encoder is pulled by the destination's upload, so all stages overlap with backpressure and
 * memory does not grow with the range.
 */

export const PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet";

/**
 * Rows (and bytes) of the fetch groups' record batches collected before they go to the encoder
 * together. Each hand-over copies the batches twice (Arrow IPC, then into wasm memory), so
 * small hand-overs keep those transient copies small; much smaller ones cost encoder CPU
 * (bench/extract.ts, transactions: collecting 16,384 rows per hand-over peaked ~20 MiB higher
 * than handing over each fetch group's batch alone).
 */
const BATCH_ROWS = 4096;
const BATCH_BYTES = 4 * 1024 * 1024;

/** A fetch group's rows, built as soon as its blocks arrived. */
interface BuiltGroup {
  rows: number;
  bytes: number;
  batch: RecordBatch | undefined;
}

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
  /**
   * With `continueAfterChunkFailure`: stop once this many chunks in a row have failed. A node
   * that went down fails every chunk, each only after its whole retry budget (over a minute),
   * so going on through a long range would take hours to report what the first few showed.
   * The chunks not attempted are listed in the result's `stopped`.
   */
  maxConsecutiveFailures?: number;
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
  /** Set when `maxConsecutiveFailures` chunks failed in a row: the chunks left unattempted. */
  stopped?: { notAttempted: string[] };
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
  const compile = () => compileLayout(def, selected, { hex: opts.hex, u256Types: opts.u256Types });
  const layout = compile();
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
    // Answers decoded from bytes where the client can; rows that come as columns are appended
    // in bulk (buildGroup), or as rows if some selected column could not be.
    columnar: true,
    ...(job.signal ? { signal: job.signal } : {}),
  };
  const groupSize =
    def.name === "logs"
      ? Math.max(opts.fetchGroupSize, opts.innerRequestSize)
      : opts.fetchGroupSize;
  const ctx = { chainId: job.chainId };
  // Layouts not building a group right now; their grown buffers are reused by the next group.
  const idle: RowLayout<unknown>[] = [layout];
  const buildGroup = (units: unknown[]): BuiltGroup => {
    const l = idle.pop() ?? compile();
    try {
      let rows = 0;
      for (const unit of units) {
        const bulk = def.columnarRows?.(unit);
        if (bulk && l.appendBulk) {
          l.appendBulk(bulk.rows, bulk.count, ctx);
          rows += bulk.count;
          continue;
        }
        for (const row of def.rows(unit)) {
          l.append(row, ctx);
          rows++;
        }
      }
      const bytes = l.byteSize;
      return { rows, bytes, batch: rows > 0 ? l.takeBatch() : undefined };
    } catch (error) {
      l.discardBatch();
      throw error;
    } finally {
      idle.push(l);
    }
  };
  // One prefetch stream runs ahead across chunks. A failed chunk leaves it somewhere inside that
  // chunk (or broken), so continuing restarts it at the next chunk.
  const prefetchFrom = (index: number) =>
    prefetchGroups(
      def,
      job.rpc,
      todo.slice(index),
      needs,
      {
        groupSize,
        maxBlocksInFlight: Math.max(opts.maxBlocksInFlight, groupSize),
        signal,
      },
      buildGroup,
    );
  let groups = prefetchFrom(0);
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
    /** Its file was reported (files, onProgress). */
    recorded: boolean;
  }

  const start = (chunk: PlannedChunk, index: number): Running => {
    const source = groups;
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
      recorded: false,
    };
    const stopIfCancelled = () => {
      if (cancelled) {
        throw new RetryableError("cancelled: an earlier chunk failed", { category: "aborted" });
      }
    };
    async function* batches(): AsyncGenerator<RecordBatch[]> {
      let collected: RecordBatch[] = [];
      let collectedRows = 0;
      let collectedBytes = 0;
      try {
        for (let b = chunk.start; b <= chunk.end; ) {
          stopIfCancelled();
          const next = await source.next();
          stopIfCancelled();
          if (next.done)
            throw new FatalError(`fetch ended before block ${b}`, { category: "internal" });
          const { count, value } = next.value;
          if (b + count - 1 > chunk.end) {
            throw new FatalError(`a fetch group crossed the end of chunk ${chunk.name}`, {
              category: "internal",
            });
          }
          b += count;
          if (value.batch) {
            collected.push(value.batch);
            collectedRows += value.rows;
            collectedBytes += value.bytes;
          }
          run.rows += value.rows;
          blocksDone += count;
          run.chunkBlocksDone += count;
          if (collectedRows >= BATCH_ROWS || collectedBytes >= BATCH_BYTES) {
            yield collected;
            collected = [];
            collectedRows = 0;
            collectedBytes = 0;
          }
          job.onProgress?.({
            dataset: def.name,
            blocksDone,
            blocksTotal,
            rows: rowsDone + run.rows,
          });
        }
        if (collected.length > 0) yield collected;
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

  let failureStreak = 0;
  const tooManyFailures = () =>
    job.maxConsecutiveFailures !== undefined && failureStreak >= job.maxConsecutiveFailures;

  /** Records a chunk whose file was written completely (once). */
  const recordFile = (run: Running, put: PutResult): void => {
    if (run.recorded) return;
    run.recorded = true;
    failureStreak = 0;
    const { chunk } = run;
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

  /** Waits for a chunk's write and records it; throws unless failures are to be skipped. */
  const settle = async (run: Running): Promise<void> => {
    const { chunk } = run;
    const { put, error } = await run.written;
    // A file completed as the extraction was aborted is still reported: it is at the
    // destination, complete, and whoever stopped the run should know it is there.
    if (put && !error) recordFile(run, put);
    if (signal?.aborted) throw chunkError(chunk.name, abortError(signal));
    if (error || !put) {
      const chunkFailure = error ?? chunkError(chunk.name, new Error("no write result"));
      if (!job.continueAfterChunkFailure) throw chunkFailure;
      failed.push({ name: chunk.name, blocks: [chunk.start, chunk.end], error: chunkFailure });
      failureStreak++;
      blocksDone += chunk.end - chunk.start + 1 - run.chunkBlocksDone;
      if (!run.rowsComplete) {
        // It stopped inside its blocks: restart fetching after it (its groups' rows are dropped).
        await groups.return(undefined);
        groups = prefetchFrom(run.index + 1);
      }
      return;
    }
  };

  // At most two chunks are open: the next one starts as soon as the previous one's rows are all
  // with its encoder, so that one's last row group, footer and upload completion overlap with
  // fetching and building the next instead of stalling the prefetch window.
  let previous: Running | undefined;
  let current: Running | undefined;
  /** Index of the first chunk not settled when too many failed in a row. */
  let stoppedAt: number | undefined;
  /** Stops the open chunks and waits for them; one that completed anyway is still recorded. */
  const closeOpen = async () => {
    for (const run of [previous, current]) {
      if (!run) continue;
      run.cancel();
      const { put, error: writeError } = await run.written;
      if (put && !writeError) recordFile(run, put);
    }
    previous = current = undefined;
  };
  try {
    for (let index = 0; index < todo.length; index++) {
      current = start(todo[index] as PlannedChunk, index);
      if (previous) {
        // Settle the previous file as soon as it ends (a failure then stops this chunk early).
        await Promise.race([current.rowsDone, current.written, previous.written]);
        await settle(previous);
        previous = undefined;
        if (tooManyFailures()) {
          stoppedAt = index;
          break;
        }
      }
      await Promise.race([current.rowsDone, current.written]);
      if (current.rowsComplete) previous = current;
      else await settle(current);
      current = undefined;
      if (tooManyFailures()) {
        stoppedAt = index + 1;
        break;
      }
    }
    if (stoppedAt === undefined && previous) await settle(previous);
    await closeOpen();
  } catch (error) {
    // Nothing may still be writing once this returns: stop and wait for open chunks.
    await closeOpen();
    throw error;
  } finally {
    await groups.return(undefined);
  }
  if (stoppedAt === undefined) return { files, skipped, failed };
  const done = new Set([...files, ...failed].map((f) => f.name));
  const notAttempted = todo.slice(stoppedAt).flatMap((c) => (done.has(c.name) ? [] : [c.name]));
  return { files, skipped, failed, stopped: { notAttempted } };
}
