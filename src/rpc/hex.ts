/**
 * Hex helpers for raw JSON-RPC values. The RPC layer keeps hex strings exactly as the node sent
 * them (parsing is the dataset layer's job); these helpers are shared so validation and row
 * building agree on what "well-formed" means.
 */

const QUANTITY = /^0x[0-9a-fA-F]{1,64}$/;
// Even length is checked separately: a plain character class is much faster than a {2} group.
const DATA = /^0x[0-9a-fA-F]*$/;
const HASH = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** A JSON-RPC QUANTITY: `0x` + 1..64 hex digits (leading zeros tolerated; some nodes send them). */
export function isHexQuantity(v: unknown): v is string {
  return typeof v === "string" && QUANTITY.test(v);
}

/** JSON-RPC DATA: `0x` + an even number of hex digits (possibly empty). */
export function isHexData(v: unknown): v is string {
  return typeof v === "string" && v.length % 2 === 0 && DATA.test(v);
}

/** A 32-byte hash. */
export function isHash(v: unknown): v is string {
  return typeof v === "string" && v.length === 66 && HASH.test(v);
}

/** A 20-byte address. */
export function isAddress(v: unknown): v is string {
  return typeof v === "string" && v.length === 42 && ADDRESS.test(v);
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
