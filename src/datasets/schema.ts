import { Field, makeData, RecordBatch, Schema, Struct } from "apache-arrow";
import { FatalError } from "../core/errors.ts";
import {
  arrowType,
  type BoolColumn,
  type BytesColumn,
  type ColumnBuilder,
  type ColumnType,
  type FixedColumn,
  newColumn,
  type U64Column,
} from "../parquet/columns.ts";
import type { AnyDataset, BulkValues, CellValue, ColumnSpec, RowContext } from "./types.ts";
import {
  badValue,
  parseU256,
  u256Hex,
  writeBinary,
  writeBinaryDeferred,
  writeBool,
  writeF64,
  writeHexString,
  writeU32,
  writeU64,
  writeU256Binary,
  writeUtf8,
} from "./values.ts";

/** cryo's `--u256-types` (decimal128 is rejected by cryo too). */
export const U256_TYPES = ["binary", "string", "f32", "f64", "u32", "u64"] as const;
export type U256Type = (typeof U256_TYPES)[number];
export const DEFAULT_U256_TYPES: readonly U256Type[] = ["binary", "string", "f64"];

const U256_ALIASES: Record<string, U256Type> = {
  binary: "binary",
  string: "string",
  str: "string",
  f32: "f32",
  float32: "f32",
  f64: "f64",
  float64: "f64",
  float: "f64",
  u32: "u32",
  uint32: "u32",
  u64: "u64",
  uint64: "u64",
};

function invalid(message: string): FatalError {
  return new FatalError(message, { category: "invalid_options" });
}

export function parseU256Types(names: readonly string[]): U256Type[] {
  const out = new Set<U256Type>();
  for (const raw of names) {
    const n = raw.toLowerCase();
    if (n === "decimal128" || n === "d128")
      throw invalid("u256 type decimal128 is not implemented");
    const t = U256_ALIASES[n];
    if (!t) {
      throw invalid(`unknown u256 type "${raw}" (expected one of ${U256_TYPES.join(", ")})`);
    }
    out.add(t);
  }
  if (out.size === 0) throw invalid("--u256-types needs at least one type");
  // cryo always emits the variants in this fixed order, whatever order they were given in.
  return U256_TYPES.filter((t) => out.has(t));
}

export interface ColumnSelection {
  /** Replace the defaults (cryo `--columns`); "all" selects every column. */
  columns?: readonly string[];
  /** Add to the selection (cryo `--include-columns`); "all" selects every column. */
  includeColumns?: readonly string[];
  /** Remove from the selection (cryo `--exclude-columns`). */
  excludeColumns?: readonly string[];
}

/**
 * The selected base column names of a dataset, in struct (file) order. Unknown names are an
 * error, as in cryo; the order in which names are given has no effect on file order.
 */
export function selectColumns(dataset: AnyDataset, sel: ColumnSelection): string[] {
  const all = dataset.columns.map((c: ColumnSpec<unknown>) => c.name);
  const supported = all.filter((n: string) => !dataset.unsupported?.includes(n));
  const check = (names: readonly string[], flag: string) => {
    for (const n of names) {
      if (n === "all" && flag !== "--exclude-columns") continue;
      if (!all.includes(n)) {
        throw invalid(
          `${flag}: unknown column "${n}" for dataset ${dataset.name} (columns: ${all.join(", ")})`,
        );
      }
      if (dataset.unsupported?.includes(n) && flag !== "--exclude-columns") {
        throw invalid(`${flag}: column "${n}" of dataset ${dataset.name} is not supported yet`);
      }
    }
  };
  let chosen = new Set<string>(dataset.defaults);
  if (sel.columns && sel.columns.length > 0) {
    check(sel.columns, "--columns");
    chosen = new Set(sel.columns.includes("all") ? supported : sel.columns);
  }
  if (sel.includeColumns) {
    check(sel.includeColumns, "--include-columns");
    for (const n of sel.includeColumns.includes("all") ? supported : sel.includeColumns) {
      chosen.add(n);
    }
  }
  if (sel.excludeColumns) {
    check(sel.excludeColumns, "--exclude-columns");
    for (const n of sel.excludeColumns) chosen.delete(n);
  }
  const ordered = all.filter((n: string) => chosen.has(n));
  if (ordered.length === 0) throw invalid(`no columns selected for dataset ${dataset.name}`);
  return ordered;
}

export interface EncodingOptions {
  hex?: boolean;
  u256Types?: readonly U256Type[];
}

/** A compiled row layout: Arrow schema + column buffers + one writer per base column. */
export interface RowLayout<R> {
  readonly schema: Schema;
  readonly rows: number;
  readonly byteSize: number;
  append(row: R, ctx: RowContext): void;
  /**
   * Append `count` rows given as columns (DatasetDef.columnarRows), through every selected
   * column's `bulk` getter. Present only when every selected column has one.
   */
  appendBulk?(rows: unknown, count: number, ctx: RowContext): void;
  /**
   * The buffered rows as one record batch; the buffers start over empty. Throws (a FatalError
   * naming the column) if a binary value turned out malformed; then call `discardBatch`.
   */
  takeBatch(): RecordBatch;
  /** Drop the buffered rows (a failed chunk's) without checking or building anything. */
  discardBatch(): void;
}

export function compileLayout<R>(
  dataset: AnyDataset,
  selected: readonly string[],
  enc: EncodingOptions = {},
): RowLayout<R> {
  const u256Types = enc.u256Types ?? DEFAULT_U256_TYPES;
  const fields: Field[] = [];
  const builders: ColumnBuilder[] = [];
  const writers: ((row: R, ctx: RowContext) => void)[] = [];
  /** One per selected column while every one so far has a bulk getter; undefined after that. */
  let bulkWriters: BulkWriter[] | undefined = [];
  const add = (name: string, type: ColumnType) => {
    const b = newColumn(type);
    fields.push(new Field(name, arrowType(type), true));
    builders.push(b);
    return b;
  };
  const binaryType: ColumnType = enc.hex ? "utf8" : "binary";
  const writeBin = enc.hex ? writeHexString : writeBinaryDeferred;
  /** Columns written with writeBinaryDeferred, by column name: decoded when a batch is taken. */
  const deferred: [string, BytesColumn][] = [];

  for (const spec of dataset.columns as ColumnSpec<R>[]) {
    if (!selected.includes(spec.name)) continue;
    const name = spec.name;
    const get = spec.get;
    const bulk = spec.bulk as ((rows: unknown, ctx: RowContext) => BulkValues) | undefined;
    if (!bulk) bulkWriters = undefined;
    /** Writes one cell, as the row path does; bulk "cells" values go through it too. */
    let write: (v: CellValue) => void;
    /** The column's own bulk kinds, besides "cells". */
    let appendOwn: ((v: BulkValues, count: number) => boolean) | undefined;
    switch (spec.kind) {
      case "u32": {
        const b = add(name, "u32") as FixedColumn;
        write = (v) => writeU32(b, name, v);
        appendOwn = (v, n) => {
          if (v.kind !== "u32" || v.values.length !== n) return false;
          b.appendMany(v.values);
          return true;
        };
        break;
      }
      case "u64": {
        const b = add(name, "u64") as U64Column;
        write = (v) => writeU64(b, name, v);
        appendOwn = (v, n) => {
          if (v.kind !== "u64-constant") return false;
          b.appendRepeated(v.value, n);
          return true;
        };
        break;
      }
      case "f64": {
        const b = add(name, "f64") as FixedColumn;
        write = (v) => writeF64(b, name, v);
        break;
      }
      case "bool": {
        const b = add(name, "bool") as BoolColumn;
        write = (v) => writeBool(b, name, v);
        break;
      }
      case "string": {
        const b = add(name, "utf8") as BytesColumn;
        write = (v) => writeUtf8(b, name, v);
        break;
      }
      case "binary": {
        const b = add(name, binaryType) as BytesColumn;
        if (!enc.hex) deferred.push([name, b]);
        write = (v) => writeBin(b, name, v);
        appendOwn = (v, n) => appendBytes(b, v, n);
        break;
      }
      case "u256":
        write = u256Writer(name, u256Types, add, binaryType, enc.hex === true);
        break;
    }
    writers.push((r, c) => write(get(r, c)));
    bulkWriters?.push((rows, n, c) => {
      const v = bulk?.(rows as never, c);
      if (v?.kind === "cells" && v.values.length === n) {
        for (let i = 0; i < n; i++) write(v.values[i]);
      } else if (!v || !appendOwn?.(v, n)) {
        throw new FatalError(`column ${name}: bulk values of the wrong kind or length`, {
          category: "internal",
        });
      }
    });
  }
  const schema = new Schema(fields);
  let rows = 0;
  return {
    schema,
    get rows() {
      return rows;
    },
    get byteSize() {
      let n = 0;
      for (const b of builders) n += b.byteSize;
      return n;
    },
    append(row, ctx) {
      for (const w of writers) w(row, ctx);
      rows++;
    },
    ...(bulkWriters
      ? {
          appendBulk(source: unknown, count: number, ctx: RowContext) {
            for (const w of bulkWriters as BulkWriter[]) w(source, count, ctx);
            rows += count;
          },
        }
      : {}),
    takeBatch() {
      // Every check first (nothing is finished yet, so a failed batch can still be discarded).
      for (const [name, b] of deferred) {
        const bad = b.decodePending();
        if (bad !== undefined) throw badValue(name, `0x${bad}`);
      }
      const children = builders.map((b) => b.finish());
      const length = rows;
      rows = 0;
      return new RecordBatch(
        schema,
        makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }),
      );
    },
    discardBatch() {
      for (const [, b] of deferred) b.discard();
      for (const b of builders) b.finish();
      rows = 0;
    },
  };
}

type BulkWriter = (rows: unknown, count: number, ctx: RowContext) => void;

/** Binary bulk values into `b`: false when they are not of a binary kind or length. */
function appendBytes(b: BytesColumn, v: BulkValues, count: number): boolean {
  if (v.kind === "fixed-bytes" && (v.present === undefined || v.present.length === count))
    b.appendFixedWidth(v.data, v.start, v.width, count, v.present);
  else if (v.kind === "bytes" && v.ends.length === count)
    b.appendConsecutive(v.data, v.start, v.ends);
  else return false;
  return true;
}

/** One writer filling every selected variant of a u256 column from a single parse. */
function u256Writer(
  name: string,
  types: readonly U256Type[],
  add: (name: string, type: ColumnType) => ColumnBuilder,
  binaryType: ColumnType,
  hex: boolean,
): (v: CellValue) => void {
  // Each part gets the parsed value and, when the cell was a hex quantity, that string too.
  const parts = types.map((t): ((x: bigint | null, quantity: string | undefined) => void) => {
    switch (t) {
      case "binary": {
        const b = add(`${name}_binary`, binaryType) as BytesColumn;
        return (x: bigint | null, quantity: string | undefined) =>
          x === null
            ? b.appendNull()
            : hex
              ? b.appendAscii(u256Hex(x))
              : quantity !== undefined
                ? writeU256Binary(b, name, quantity)
                : writeBinary(b, name, u256Hex(x));
      }
      case "string": {
        const b = add(`${name}_string`, "utf8") as BytesColumn;
        return (x: bigint | null) => (x === null ? b.appendNull() : b.appendAscii(x.toString()));
      }
      case "f32": {
        const b = add(`${name}_f32`, "f32") as FixedColumn;
        return (x: bigint | null) => (x === null ? b.appendNull() : b.append(Number(x)));
      }
      case "f64": {
        const b = add(`${name}_f64`, "f64") as FixedColumn;
        return (x: bigint | null) => (x === null ? b.appendNull() : b.append(Number(x)));
      }
      case "u32": {
        const b = add(`${name}_u32`, "u32") as FixedColumn;
        return (x: bigint | null) =>
          x === null ? b.appendNull() : b.append(Number(BigInt.asUintN(32, x)));
      }
      case "u64": {
        const b = add(`${name}_u64`, "u64") as U64Column;
        return (x: bigint | null) => (x === null ? b.appendNull() : b.appendBigInt(x));
      }
      default:
        throw new FatalError(`unknown u256 type ${String(t)}`, { category: "invalid_options" });
    }
  });
  return (v) => {
    const x = parseU256(name, v);
    // parseU256 accepted it: a string here is a well-formed quantity of 1-64 digits.
    const quantity = typeof v === "string" ? v : undefined;
    for (const p of parts) p(x, quantity);
  };
}
