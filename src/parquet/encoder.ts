import { makeData, RecordBatch, type Schema, Struct, Table, tableToIPC } from "apache-arrow";
import * as wasm from "parquet-wasm";
import { FatalError } from "../core/errors.ts";

/**
 * Streaming Parquet encoding with parquet-wasm (arrow-rs): Arrow record batches in, Parquet bytes
 * out, one row group at a time. The node build of parquet-wasm instantiates its wasm module
 * synchronously on import, so there is nothing to initialise here.
 *
 * Writer settings mirror cryo's polars writer where arrow-rs allows it: LZ4_RAW by default,
 * DATA_PAGE_V2, dictionary with PLAIN fallback, page-level statistics (min/max/null_count plus the
 * column and offset index). `created_by` is fixed so the same rows always give the same bytes.
 */

export const COMPRESSIONS = ["lz4", "zstd", "snappy", "gzip", "brotli", "none"] as const;
export type ParquetCompression = (typeof COMPRESSIONS)[number];

export interface ParquetWriteOptions {
  compression?: ParquetCompression;
  /** Maximum rows per row group; bounds the writer's buffered (encoded) row group. */
  rowGroupSize?: number;
  statistics?: boolean;
}

/** Fixed so output bytes never depend on the library build or the clock. */
export const CREATED_BY = "trace (parquet-rs via parquet-wasm)";
/**
 * The writer buffers a whole encoded row group in wasm linear memory, which never shrinks, so the
 * row group size sets the encoder's memory high-water mark: for mainnet-sized transactions a
 * 65,536-row group grew it to ~76 MiB, 16,384 rows to ~33 MiB (bench/extract.ts).
 */
export const DEFAULT_ROW_GROUP_SIZE = 16_384;

export function parseCompression(name: string): ParquetCompression {
  const n = name.toLowerCase();
  const alias: Record<string, ParquetCompression> = {
    lz4: "lz4",
    lz4_raw: "lz4",
    zstd: "zstd",
    snappy: "snappy",
    gzip: "gzip",
    brotli: "brotli",
    none: "none",
    uncompressed: "none",
  };
  const c = alias[n];
  if (!c) {
    throw new FatalError(
      `unknown compression "${name}" (expected one of ${COMPRESSIONS.join(", ")})`,
      { category: "invalid_options" },
    );
  }
  return c;
}

function codec(c: ParquetCompression): wasm.Compression {
  switch (c) {
    case "lz4":
      return wasm.Compression.LZ4_RAW;
    case "zstd":
      return wasm.Compression.ZSTD;
    case "snappy":
      return wasm.Compression.SNAPPY;
    case "gzip":
      return wasm.Compression.GZIP;
    case "brotli":
      return wasm.Compression.BROTLI;
    case "none":
      return wasm.Compression.UNCOMPRESSED;
  }
}

function writerProperties(o: ParquetWriteOptions): wasm.WriterProperties {
  return new wasm.WriterPropertiesBuilder()
    .setCompression(codec(o.compression ?? "lz4"))
    .setWriterVersion(wasm.WriterVersion.V2)
    .setEncoding(wasm.Encoding.PLAIN)
    .setDictionaryEnabled(true)
    .setStatisticsEnabled(
      o.statistics === false ? wasm.EnabledStatistics.None : wasm.EnabledStatistics.Page,
    )
    .setMaxRowGroupSize(o.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE)
    .setCreatedBy(CREATED_BY)
    .build();
}

/**
 * Moves JS Arrow batches into wasm memory (via the IPC stream format, the only bridge): one IPC
 * stream, and one crossing into wasm, per hand-over however many batches it holds.
 */
function toWasmBatches(given: RecordBatch[]): wasm.RecordBatch[] {
  const table = wasm.Table.fromIPCStream(tableToIPC(new Table(given), "stream"));
  const batches = table.recordBatches();
  table.free();
  return batches;
}

/**
 * Encode `batches` (all of `schema`) as one Parquet file, yielding its bytes as row groups are
 * completed. Each item is a record batch or several (handed over together). The bytes depend on
 * the rows and on how they were split into batches, so a caller that wants the same bytes for
 * the same rows must split them the same way. Pull-driven: the next item is requested only when
 * the writer wants more input, so a slow consumer (an upload) slows batch production. An empty
 * input gives a valid file with zero row groups, like cryo's writer.
 *
 * Errors thrown by `batches` propagate unchanged to the consumer of the returned iterable, and
 * the file's last bytes are then never yielded (a consumer can never store a truncated file).
 */
export async function* encodeParquet(
  schema: Schema,
  batches: AsyncIterable<RecordBatch | readonly RecordBatch[]>,
  options: ParquetWriteOptions = {},
): AsyncGenerator<Uint8Array> {
  const source = batches[Symbol.asyncIterator]();
  let sourceError: { error: unknown } | undefined;
  let sent = 0;
  const input = new ReadableStream<wasm.RecordBatch>(
    {
      async pull(ctrl) {
        try {
          // A pull must enqueue something (or end the stream), or the writer waits forever: skip
          // hand-overs without rows.
          while (true) {
            const next = await source.next();
            if (next.done) {
              // arrow-rs takes the file schema from the first batch: give it an empty one.
              if (sent === 0) for (const b of toWasmBatches([emptyBatch(schema)])) ctrl.enqueue(b);
              ctrl.close();
              return;
            }
            const given: readonly RecordBatch[] = Array.isArray(next.value)
              ? next.value
              : [next.value as RecordBatch];
            const nonEmpty = given.filter((b) => b.numRows > 0);
            if (nonEmpty.length === 0) continue;
            for (const b of toWasmBatches(nonEmpty)) ctrl.enqueue(b);
            sent++;
            return;
          }
        } catch (error) {
          sourceError = { error };
          ctrl.error(error);
        }
      },
      async cancel() {
        await source.return?.();
      },
    },
    { highWaterMark: 0 },
  );
  let output: ReadableStream<Uint8Array>;
  try {
    output = await wasm.transformParquetStream(input, writerProperties(options));
  } catch (error) {
    throw sourceError ? sourceError.error : encodeError(error);
  }
  const reader = output.getReader();
  let finished = false;
  try {
    // parquet-wasm ends its output normally (footer included) when its input stream errors, so a
    // failed source would look like a complete, truncated file. Hold one chunk back and check for
    // a source error before releasing it: the footer is never yielded after a failure.
    let held: Uint8Array | undefined;
    while (true) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw sourceError ? sourceError.error : encodeError(error);
      }
      if (sourceError) throw sourceError.error;
      if (chunk.done) break;
      if (held) yield held;
      held = chunk.value;
    }
    if (held) yield held;
    finished = true;
  } finally {
    if (!finished) {
      await reader.cancel().catch(() => {});
      await source.return?.(undefined).catch(() => {});
    }
    reader.releaseLock();
  }
}

/** A zero-row batch of `schema`. */
function emptyBatch(schema: Schema): RecordBatch {
  const children = schema.fields.map((f) => makeData({ type: f.type, length: 0 }));
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: 0, nullCount: 0, children }),
  );
}

function encodeError(error: unknown): FatalError {
  return new FatalError("Parquet encoding failed", { category: "parquet_encode", cause: error });
}

/** Collect an async byte stream (tests and small files only). */
export async function collectBytes(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}
