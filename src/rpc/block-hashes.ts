import { decodeHexInto } from "../core/hex-decode.ts";

/**
 * Hashes of the blocks a client fetched, so that eth_getLogs answers can be checked against them
 * ("log for the wrong block"). A fixed table indexed by block number modulo its capacity: a
 * block evicts whichever block held its slot, so any `capacity` consecutive blocks are all kept.
 * A lookup confirms the block number, so an evicted block is simply unknown (no check), never
 * mistaken for another.
 *
 * Why not a Map of hash strings: over a long extraction it filled to its bound, 50,000 strings
 * and their table, ~8 MB of live V8 heap, and V8 sizes its heap limit in proportion to the live
 * heap, so the extraction's peak RSS grew with the range's length (bench/extract-child.js,
 * blocks: 131 MiB over 10,000 blocks, 151 over 100,000; BENCHMARKS.md, extract, entry
 * 17:14–19:40). Here the table is two typed arrays made at the first insert, whose size never
 * changes and which V8 does not trace.
 */
export class BlockHashes {
  private numbers: Float64Array | undefined;
  private hashes: Buffer | undefined;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`block hash capacity must be a positive integer, got ${capacity}`);
    }
  }

  /** Remembers `hash` (`0x` and 64 hex digits, as validated) as the hash of block `n`. */
  set(n: number, hash: string): void {
    if (!this.numbers || !this.hashes) {
      this.numbers = new Float64Array(this.capacity).fill(-1);
      this.hashes = Buffer.alloc(this.capacity * 32);
    }
    const slot = n % this.capacity;
    // A hash that is not 64 hex digits cannot reach here (validateBlock / the decoder refuse it);
    // if one did, the block is forgotten rather than remembered wrong.
    const ok = hash.length === 66 && decodeHexInto(this.hashes, hash.slice(2), slot * 32);
    this.numbers[slot] = ok ? n : -1;
  }

  /** The hash remembered for block `n` (lowercase hex), or undefined. */
  get(n: number): string | undefined {
    if (!this.numbers || !this.hashes) return undefined;
    const slot = n % this.capacity;
    if (this.numbers[slot] !== n) return undefined;
    return `0x${this.hashes.toString("hex", slot * 32, slot * 32 + 32)}`;
  }
}
