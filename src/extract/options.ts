import { FatalError } from "../core/errors.ts";
import { parseU256Types, type U256Type } from "../datasets/index.ts";
import { type ParquetCompression, parseCompression } from "../parquet/encoder.ts";
import { DEFAULT_CHUNK_SIZE } from "./naming.ts";

/** Options of one extraction, named after cryo's flags. Every field is optional. */
export interface DatasetOptions {
  /** `--columns`: replace the default columns ("all" = every column). Base names (`value`). */
  columns?: string[];
  /** `--include-columns`: add to the defaults. */
  includeColumns?: string[];
  /** `--exclude-columns`: remove from the defaults. */
  excludeColumns?: string[];
  /** `--hex`: binary columns as lowercase `0x…` strings. */
  hex?: boolean;
  /** `--u256-types`: default binary, string, f64. */
  u256Types?: string[];
  /** `--compression`: lz4 (LZ4_RAW, default), zstd, snappy, gzip, brotli, none. */
  compression?: string;
  /** `--chunk-size`: blocks per file, default 1000. */
  chunkSize?: number;
  /** Maximum rows per Parquet row group (bounds the writer's memory). */
  rowGroupSize?: number;
  /** `--no-stats` when false. */
  statistics?: boolean;
  /** `--inner-request-size`: blocks per eth_getLogs request, default 1 (cryo's CLI default). */
  innerRequestSize?: number;
  /** Blocks per fetch call handed to the RPC client (which batches them). Default 10. */
  fetchGroupSize?: number;
  /** Blocks requested but not yet encoded, at most. Default 40 (~1 MB of JSON per mainnet block). */
  maxBlocksInFlight?: number;
}

/** Blocks fetched ahead of the encoder unless told otherwise (`--max-blocks-in-flight`). */
export const DEFAULT_MAX_BLOCKS_IN_FLIGHT = 40;

export interface ResolvedOptions {
  selection: { columns?: string[]; includeColumns?: string[]; excludeColumns?: string[] };
  hex: boolean;
  u256Types: U256Type[];
  compression: ParquetCompression;
  chunkSize: number;
  rowGroupSize: number | undefined;
  statistics: boolean;
  innerRequestSize: number;
  fetchGroupSize: number;
  maxBlocksInFlight: number;
}

function positiveInt(name: string, v: number | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1 || v > max) {
    throw new FatalError(`${name} must be an integer in [1, ${max}], got ${v}`, {
      category: "invalid_options",
    });
  }
  return v;
}

export function resolveOptions(o: DatasetOptions = {}): ResolvedOptions {
  return {
    selection: {
      columns: o.columns,
      includeColumns: o.includeColumns,
      excludeColumns: o.excludeColumns,
    },
    hex: o.hex === true,
    u256Types: o.u256Types ? parseU256Types(o.u256Types) : ["binary", "string", "f64"],
    compression: parseCompression(o.compression ?? "lz4"),
    chunkSize: positiveInt("chunk size", o.chunkSize, DEFAULT_CHUNK_SIZE, 1e9),
    rowGroupSize:
      o.rowGroupSize === undefined
        ? undefined
        : positiveInt("row group size", o.rowGroupSize, 0, 1 << 24),
    statistics: o.statistics !== false,
    innerRequestSize: positiveInt("inner request size", o.innerRequestSize, 1, 100_000),
    fetchGroupSize: positiveInt("fetch group size", o.fetchGroupSize, 10, 10_000),
    maxBlocksInFlight: positiveInt(
      "max blocks in flight",
      o.maxBlocksInFlight,
      DEFAULT_MAX_BLOCKS_IN_FLIGHT,
      100_000,
    ),
  };
}
