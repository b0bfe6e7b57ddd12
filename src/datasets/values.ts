import { FatalError } from "../core/errors.ts";
import { decodeHexInto } from "../core/hex-decode.ts";
import type { BoolColumn, BytesColumn, FixedColumn, U64Column } from "../parquet/columns.ts";
import { isHexQuantity } from "../rpc/hex.ts";
import type { CellValue } from "./types.ts";

/**
 * Hex → column-buffer conversions for the hot path: no viem formatters, no intermediate
 * objects. Integers narrower than their hex value wrap like Rust's `as` casts (cryo's behaviour);
 * malformed hex is a FatalError naming the column.
 */

const DATA = /^0x(?:[0-9a-fA-F]{2})*$/;

/** Digit values of ASCII hex characters; -1 for every other character code below 128. */
const HEX_DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_DIGIT[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_DIGIT[65 + i] = 10 + i;
  HEX_DIGIT[97 + i] = 10 + i;
}

/** The value of the hex digit at `s[i]`, or -1 (non-hex, including every non-ASCII char). */
function digitAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c < 128 ? (HEX_DIGIT[c] as number) : -1;
}

export function badValue(column: string, v: unknown): FatalError {
  const s =
    typeof v === "string" ? JSON.stringify(v.length > 70 ? `${v.slice(0, 67)}...` : v) : String(v);
  return new FatalError(`invalid value for column ${column}: ${s}`, {
    category: "invalid_rpc_response",
  });
}

/** Low and high u32 words of the last quantity parsed by `parseWords` (no array per value). */
let wordLo = 0;
let wordHi = 0;

/** Parse a hex quantity's low 64 bits into wordLo / wordHi (wrapping, like Rust's `as u64`). */
function parseWords(column: string, hex: string): void {
  const len = hex.length;
  if (len < 3 || len > 66 || hex.charCodeAt(0) !== 48 || hex.charCodeAt(1) !== 120) {
    throw badValue(column, hex);
  }
  // Digits above the low 16 only need to be valid; the next 8 form the high word, the last 8
  // the low word. Each word accumulates at most 8 digits, so it stays an exact integer < 2^32.
  const hiStart = Math.max(2, len - 16);
  const loStart = Math.max(2, len - 8);
  let lo = 0;
  let hi = 0;
  for (let i = 2; i < len; i++) {
    const d = digitAt(hex, i);
    if (d < 0) throw badValue(column, hex);
    if (i >= loStart) lo = lo * 16 + d;
    else if (i >= hiStart) hi = hi * 16 + d;
  }
  wordLo = lo;
  wordHi = hi;
}

export function writeU64(col: U64Column, column: string, v: CellValue): void {
  if (v === null || v === undefined) col.appendNull();
  else if (typeof v === "string") {
    parseWords(column, v);
    col.appendWords(wordLo, wordHi);
  } else if (typeof v === "number") col.appendNumber(v);
  else if (typeof v === "bigint") col.appendBigInt(v);
  else throw badValue(column, v);
}

export function writeU32(col: FixedColumn, column: string, v: CellValue): void {
  if (v === null || v === undefined) col.appendNull();
  else if (typeof v === "string") {
    parseWords(column, v);
    col.append(wordLo);
  } else if (typeof v === "number") col.append(v >>> 0);
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
    const at = col.reserve(n);
    col.view.write(v, at, n, "utf8");
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
  const at = col.reserve(n);
  if (!decodeHexInto(col.view, v.slice(2), at)) throw badValue(column, v);
  col.commit(n);
}

/**
 * writeBinary for row layouts: the same checks, but the digits are decoded in bulk by the column
 * (BytesColumn.appendHexDigits), so a malformed digit may surface at a later value of the column
 * or when the batch is taken (RowLayout.takeBatch) — always before the batch exists.
 */
export function writeBinaryDeferred(col: BytesColumn, column: string, v: CellValue): void {
  if (v === null || v === undefined) {
    col.appendNull();
    return;
  }
  if (typeof v !== "string" || !isHexPrefixedEven(v)) throw badValue(column, v);
  const bad = col.appendHexDigits(v.slice(2));
  if (bad !== undefined) throw badValue(column, `0x${bad}`);
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
  if (typeof v === "string" && isHexQuantity(v)) return BigInt(v);
  throw badValue(column, v);
}

/**
 * A u256 quantity (already validated: 0x + 1-64 hex digits) as 32 big-endian bytes, decoded
 * from its digits (no BigInt → hex string round trip): zero bytes, then the digits.
 */
export function writeU256Binary(col: BytesColumn, column: string, quantity: string): void {
  const digits = quantity.length - 2;
  const n = (digits + 1) >> 1;
  const at = col.reserve(32);
  const view = col.view;
  const start = at + 32 - n;
  view.fill(0, at, start);
  let ok: boolean;
  if (digits % 2 === 1) {
    // An odd count: the first digit alone is the first byte's low nibble.
    const first = digitAt(quantity, 2);
    view[start] = first;
    ok = first >= 0 && view.write(quantity.slice(3), start + 1, n - 1, "hex") === n - 1;
  } else {
    ok = view.write(quantity.slice(2), start, n, "hex") === n;
  }
  if (!ok) throw badValue(column, quantity);
  col.commit(32);
}

/** A u256 as 0x + 64 lowercase hex digits (32 bytes big-endian). */
export function u256Hex(x: bigint): string {
  return `0x${x.toString(16).padStart(64, "0")}`;
}

/** Left-pad a quantity to a fixed-width DATA value (e.g. signature r/s → 32 bytes). */
export function padQuantity(column: string, v: CellValue, bytes: number): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== "string" || !isHexQuantity(v) || v.length - 2 > bytes * 2) {
    throw badValue(column, v);
  }
  return `0x${v
    .slice(2)
    .toLowerCase()
    .padStart(bytes * 2, "0")}`;
}

/** Decoded DATA values are only counted, never kept: one scratch buffer, grown as needed. */
let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Decode DATA hex into `scratch` and return its byte count. The decoder does the validation
 * (as in writeBinary): it stops at the first non-hex digit, so fewer bytes written = malformed.
 */
function decodeToScratch(column: string, hex: unknown): number {
  if (typeof hex !== "string" || !isHexPrefixedEven(hex)) throw badValue(column, hex);
  const n = (hex.length - 2) >> 1;
  if (n > scratch.length) scratch = Buffer.allocUnsafe(Math.max(n, 2 * scratch.length));
  if (!decodeHexInto(scratch, hex.slice(2), 0)) throw badValue(column, hex);
  return n;
}

/** Number of bytes of a DATA hex string. */
export function dataLength(column: string, hex: string): number {
  return decodeToScratch(column, hex);
}

/** Number of bytes of a DATA hex string, and how many of them are zero. */
export function countBytes(column: string, hex: string): { total: number; zero: number } {
  const total = decodeToScratch(column, hex);
  let zero = 0;
  for (let i = 0; i < total; i++) if (scratch[i] === 0) zero++;
  return { total, zero };
}

/**
 * A well-formed quantity of at most 13 hex digits (< 2^52, so exact as a double, and sums or
 * differences of two stay exact) as a number; -1 for anything else (longer, or malformed: the
 * caller then takes its BigInt path, which reports malformed values).
 */
export function smallQuantity(v: unknown): number {
  if (typeof v !== "string") return -1;
  const len = v.length;
  if (len < 3 || len > 15 || v.charCodeAt(0) !== 48 || v.charCodeAt(1) !== 120) return -1;
  let n = 0;
  for (let i = 2; i < len; i++) {
    const d = digitAt(v, i);
    if (d < 0) return -1;
    n = n * 16 + d;
  }
  return n;
}

/** A hex quantity that must fit a JS number (block numbers, indices). */
export function hexNumber(column: string, v: unknown): number {
  if (typeof v !== "string") throw badValue(column, v);
  const len = v.length;
  if (len < 3 || len > 66 || v.charCodeAt(0) !== 48 || v.charCodeAt(1) !== 120) {
    throw badValue(column, v);
  }
  let n = 0;
  for (let i = 2; i < len; i++) {
    const d = digitAt(v, i);
    if (d < 0) throw badValue(column, v);
    n = n * 16 + d;
  }
  // Exact while n stays below 2^53; past it the result is no longer a safe integer.
  if (!Number.isSafeInteger(n)) throw badValue(column, v);
  return n;
}
