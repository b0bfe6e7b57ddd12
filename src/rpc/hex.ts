/**
 * Hex helpers for raw JSON-RPC values. The RPC layer keeps hex strings exactly as the node sent
 * them (parsing is the dataset layer's job); these helpers are shared so validation and row
 * building agree on what "well-formed" means.
 */

/*
 * Validation runs on every field of every response (hundreds of thousands of hashes per
 * thousand mainnet blocks), so it avoids regular expressions: Node's native hex decoder, writing
 * into a scratch buffer, checks long values 2–4× faster (it stops at the first pair that is not
 * hex, so "bytes written" equals "all digits valid"); short ones use a lookup-table loop.
 */
import { decodeHexInto } from "../core/hex-decode.ts";

const HEX_DIGIT = new Uint8Array(128);
for (const c of "0123456789abcdefABCDEF") HEX_DIGIT[c.charCodeAt(0)] = 1;
const scratch = Buffer.allocUnsafe(64 * 1024);

function hasHexPrefix(v: string): boolean {
  return v.charCodeAt(0) === 48 /* 0 */ && v.charCodeAt(1) === 120; /* x */
}

/** Every character from `from` on is a hex digit. */
function hexDigitsFrom(v: string, from: number): boolean {
  for (let i = from; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c > 127 || HEX_DIGIT[c] === 0) return false;
  }
  return true;
}

/** `v` = 0x + an even number of hex digits (length already checked to be even). */
function evenHexDigits(v: string): boolean {
  const bytes = (v.length - 2) >> 1;
  if (bytes === 0) return true;
  if (bytes < 8 || bytes > scratch.length) return hexDigitsFrom(v, 2);
  return decodeHexInto(scratch, v.slice(2), 0);
}

/** A JSON-RPC QUANTITY: `0x` + 1..64 hex digits (leading zeros tolerated; some nodes send them). */
export function isHexQuantity(v: unknown): v is string {
  return (
    typeof v === "string" &&
    v.length > 2 &&
    v.length <= 66 &&
    hasHexPrefix(v) &&
    hexDigitsFrom(v, 2)
  );
}

/** JSON-RPC DATA: `0x` + an even number of hex digits (possibly empty). */
export function isHexData(v: unknown): v is string {
  return typeof v === "string" && v.length % 2 === 0 && hasHexPrefix(v) && evenHexDigits(v);
}

/** A 32-byte hash. */
export function isHash(v: unknown): v is string {
  return typeof v === "string" && v.length === 66 && hasHexPrefix(v) && evenHexDigits(v);
}

/** A 20-byte address. */
export function isAddress(v: unknown): v is string {
  return typeof v === "string" && v.length === 42 && hasHexPrefix(v) && evenHexDigits(v);
}

/**
 * A QUANTITY as a JS number. Throws a plain Error (callers add context) on malformed hex or on a
 * value above Number.MAX_SAFE_INTEGER, so a u64 never silently loses precision.
 */
export function parseHexQuantity(hex: string): number {
  if (!isHexQuantity(hex)) throw new Error(`not a hex quantity: ${preview(hex)}`);
  const n = Number.parseInt(hex.slice(2), 16);
  if (!Number.isSafeInteger(n)) throw new Error(`hex quantity exceeds 2^53-1: ${preview(hex)}`);
  return n;
}

/** A QUANTITY of any size (u64, u256) as a bigint. */
export function parseHexBigInt(hex: string): bigint {
  if (!isHexQuantity(hex)) throw new Error(`not a hex quantity: ${preview(hex)}`);
  return BigInt(hex);
}

/** A non-negative safe integer as a minimal JSON-RPC QUANTITY (`0x0`, `0x112a880`). */
export function toHexQuantity(n: number | bigint): string {
  if (typeof n === "number" && (!Number.isSafeInteger(n) || n < 0)) {
    throw new Error(`not a non-negative safe integer: ${n}`);
  }
  if (typeof n === "bigint" && n < 0n) throw new Error(`negative quantity: ${n}`);
  return `0x${n.toString(16)}`;
}

/** DATA hex to bytes. Throws on malformed input (Buffer.from would silently truncate). */
export function hexToBytes(hex: string): Uint8Array {
  if (!isHexData(hex)) throw new Error(`not hex data: ${preview(hex)}`);
  return Buffer.from(hex.slice(2), "hex");
}

/** Short, log-safe rendering of an unexpected value. */
export function preview(v: unknown): string {
  const s =
    typeof v === "string" ? JSON.stringify(v) : v === undefined ? "undefined" : JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
