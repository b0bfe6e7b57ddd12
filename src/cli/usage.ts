import { InvalidArgumentError } from "commander";

/** Exit code for usage errors (bad flags or values), like clap/cryo. */
export const EXIT_USAGE = 2;

/** A usage error found after parsing (e.g. an unknown dataset or column): exit code 2. */
export class UsageError extends Error {}

/** Parse a non-negative integer flag value; `_` separators and K/M/B suffixes like cryo. */
export function parseCount(value: string): number {
  const m = /^(\d[\d_]*(?:\.\d+)?)([kKmMbB]?)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  const mult = { "": 1, k: 1e3, m: 1e6, b: 1e9 }[(m[2] ?? "").toLowerCase()] ?? 1;
  const n = Number((m[1] ?? "").replaceAll("_", "")) * mult;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`not an integer: "${value}"`);
  return n;
}

export function parsePositive(value: string): number {
  const n = parseCount(value);
  if (n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

/**
 * cryo's `--blocks`: `a:b` (end-exclusive), `a:+n` (n blocks from a), `:b` (from 0), and
 * `a:latest` / `a:` (through the node's latest block, inclusive, as in cryo). The end is
 * "latest" until the caller resolves it with eth_blockNumber.
 */
export type BlockRangeArg = [number, number | "latest"];

export function parseBlockRange(value: string): BlockRangeArg {
  const m = /^([^:]*):(\+?)([^:]*)$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected start:end (end exclusive), got "${value}"`);
  const start = m[1] === "" ? 0 : parseCount(m[1] ?? "");
  const endText = m[3] ?? "";
  if (m[2] === "" && (endText === "" || endText === "latest")) return [start, "latest"];
  const endRaw = parseCount(endText);
  const end = m[2] === "+" ? start + endRaw : endRaw;
  if (end <= start) {
    throw new InvalidArgumentError(
      `empty range "${value}": the end is exclusive and must be > start`,
    );
  }
  return [start, end];
}
