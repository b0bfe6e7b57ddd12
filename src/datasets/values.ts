import { FatalError } from "../core/errors.ts";
import type { BoolColumn, BytesColumn, FixedColumn, U64Column } from "../parquet/columns.ts";
import type { CellValue } from "./types.ts";

/**
 * Hex → column-buffer conversions for the hot path: no viem formatters, no intermediate
 * objects. Integers narrower than their hex value wrap like Rust's `as` casts (cryo's behaviour);
 * malformed hex is a FatalError naming the column.
 */

const QUANTITY = /^0x[0-9a-fA-F]{1,64}$/;
const DATA = /^0x(?:[0-9a-fA-F]{2})*$/;

export function badValue(column: string, v: unknown): FatalError {
  const s =
    typeof v === "string" ? JSON.stringify(v.length > 70 ? `${v.slice(0, 67)}...` : v) : String(v);
  return new FatalError(`invalid value for column ${column}: ${s}`, {
    category: "invalid_rpc_response",
  });
}

/** A hex quantity's low 64 bits as two u32 words. */
function hexWords(column: string, hex: string): [number, number] {
  if (!QUANTITY.test(hex)) throw badValue(column, hex);
  const digits = hex.length - 2;
  if (digits <= 8) return [Number.parseInt(hex.slice(2), 16), 0];
  const loStart = hex.length - 8;
  const hiStart = Math.max(2, loStart - 8);
  return [
    Number.parseInt(hex.slice(loStart), 16),
    Number.parseInt(hex.slice(hiStart, loStart), 16),
  ];
}

export function writeU64(col: U64Column, column: string, v: CellValue): void {
  if (v === null || v === undefined) col.appendNull();
  else if (typeof v === "string") {
    const [lo, hi] = hexWords(column, v);
    col.appendWords(lo, hi);
  } else if (typeof v === "number") col.appendNumber(v);
  else if (typeof v === "bigint") col.appendBigInt(v);
  else throw badValue(column, v);
}

export function writeU32(col: FixedColumn, column: string, v: CellValue): void {
  if (v === null || v === undefined) col.appendNull();
  else if (typeof v === "string") col.append(hexWords(column, v)[0]);
  else if (typeof v === "number") col.append(v >>> 0);
  else if (typeof v === "bigint") col.append(Number(BigInt.asUintN(32, v)));
  else throw badValue(column, v);
}

export function writeF64(col: FixedColumn, column: string, v: CellValue): void {
  if (v === null || v === undefined) col.appendNull();
  else if (typeof v === "number") col.append(v);
  else throw badValue(column, v);
}

export function writeBool(col: BoolColumn, column: string, v: CellValue): void {
  if (v === null || v === undefined) col.appendNull();
  else if (typeof v === "boolean") col.append(v);
  else throw badValue(column, v);
}

export function writeUtf8(col: BytesColumn, column: string, v: CellValue): void {
  if (v === null || v === undefined) col.appendNull();
  else if (typeof v === "string") {
    const n = Buffer.byteLength(v, "utf8");
    const { buf, at } = col.reserve(n);
    Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).write(v, at, n, "utf8");
    col.commit(n);
  } else throw badValue(column, v);
}

/** DATA hex → raw bytes (binary mode). */
export function writeBinary(col: BytesColumn, column: string, v: CellValue): void {
  if (v === null || v === undefined) {
    col.appendNull();
    return;
  }
  // No regex on the hot path: Buffer's hex decoder stops at the first non-hex digit, so writing
  // fewer than n bytes is exactly "malformed" (the reserved bytes are then never committed).
  if (typeof v !== "string" || !isHexPrefixedEven(v)) throw badValue(column, v);
  const n = (v.length - 2) >> 1;
  const { buf, at } = col.reserve(n);
  const written = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).write(
    v.slice(2),
    at,
    n,
    "hex",
  );
  if (written !== n) throw badValue(column, v);
  col.commit(n);
}

/** `0x` followed by an even number of characters (the digits are checked by the decoder). */
function isHexPrefixedEven(v: string): boolean {
  return v.length % 2 === 0 && v.charCodeAt(0) === 48 && v.charCodeAt(1) === 120;
}

/** DATA hex → lowercase `0x…` string (`--hex` mode). */
export function writeHexString(col: BytesColumn, column: string, v: CellValue): void {
  if (v === null || v === undefined) {
    col.appendNull();
    return;
  }
  if (typeof v !== "string" || !DATA.test(v)) throw badValue(column, v);
  col.appendAscii(v.toLowerCase());
}

export function parseU256(column: string, v: CellValue): bigint | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return BigInt.asUintN(256, v);
  if (typeof v === "number") return BigInt(v);
  if (typeof v === "string" && QUANTITY.test(v)) return BigInt(v);
  throw badValue(column, v);
}

/** A u256 as 0x + 64 lowercase hex digits (32 bytes big-endian). */
export function u256Hex(x: bigint): string {
  return `0x${x.toString(16).padStart(64, "0")}`;
}

/** Left-pad a quantity to a fixed-width DATA value (e.g. signature r/s → 32 bytes). */
export function padQuantity(column: string, v: CellValue, bytes: number): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== "string" || !QUANTITY.test(v) || v.length - 2 > bytes * 2) {
    throw badValue(column, v);
  }
  return `0x${v
    .slice(2)
    .toLowerCase()
    .padStart(bytes * 2, "0")}`;
}

/** Number of bytes of a DATA hex string, and how many of them are zero. */
export function countBytes(column: string, hex: string): { total: number; zero: number } {
  if (typeof hex !== "string" || !DATA.test(hex)) throw badValue(column, hex);
  let zero = 0;
  for (let i = 2; i < hex.length; i += 2) {
    if (hex.charCodeAt(i) === 48 && hex.charCodeAt(i + 1) === 48) zero++;
  }
  return { total: (hex.length - 2) >> 1, zero };
}

/** A hex quantity that must fit a JS number (block numbers, indices). */
export function hexNumber(column: string, v: unknown): number {
  if (typeof v !== "string" || !QUANTITY.test(v)) throw badValue(column, v);
  const n = Number.parseInt(v.slice(2), 16);
  if (!Number.isSafeInteger(n)) throw badValue(column, v);
  return n;
}
