/**
 * Cheap deterministic randomness for the synthetic chain. Every block is generated from its own
 * generator seeded by (chain seed, block number, stream), so any block can be produced on its
 * own, in any order, without generating its predecessors. sfc32 is small, fast and good enough
 * for test data; it is not, and need not be, cryptographic.
 */

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over a string: turns a user-supplied seed into a 32-bit word. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, x: number, y = 0, z = 0) {
    // Block numbers may exceed 2^32 in principle; fold the high part in rather than dropping it.
    const xHi = Math.floor(x / 0x1_0000_0000) >>> 0;
    this.a = fmix32(seed ^ 0x9e3779b9);
    this.b = fmix32((x >>> 0) ^ fmix32(xHi + 0x7f4a7c15));
    this.c = fmix32(y ^ 0x85ebca6b ^ this.a);
    this.d = fmix32(z ^ 0xc2b2ae35 ^ this.b) | 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 0x1_0000_0000;
  }

  /** Uniform integer in [0, n) for n up to 2^53 (two draws when n exceeds 2^32). */
  int(n: number): number {
    if (n <= 0x1_0000_0000) return Math.floor(this.float() * n);
    return Math.floor(((this.next() * 0x1_0000_0000 + this.next()) / 2 ** 64) * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  /** `bytes` random bytes as lowercase hex, no prefix. */
  hex(bytes: number): string {
    // Buffer#toString('hex') yields one flat string; building it from 2-char pieces made ropes
    // that cost more in garbage collection than the generation itself.
    const buf = bytes <= 4096 ? SCRATCH : Buffer.allocUnsafe(bytes + 4);
    for (let i = 0; i < bytes; i += 4) buf.writeUInt32BE(this.next(), i);
    return buf.toString("hex", 0, bytes);
  }

  /**
   * `0x` and `bytes` random bytes as one flat string. Template literals like `0x${hex}` make
   * two-piece ropes, and reading ropes char by char is slow in the renderer's hot loop.
   */
  hex0x(bytes: number): string {
    const buf = bytes <= 4094 ? SCRATCH : Buffer.allocUnsafe(bytes + 6);
    buf[0] = 0x30;
    buf[1] = 0x78;
    for (let i = 0; i < bytes; i += 4) {
      const w = this.next();
      for (let k = 0; k < 4 && i + k < bytes; k++) {
        const v = (w >>> (24 - 8 * k)) & 255;
        buf[2 + 2 * (i + k)] = HEX_CODES[v >>> 4]!;
        buf[3 + 2 * (i + k)] = HEX_CODES[v & 15]!;
      }
    }
    return buf.toString("latin1", 0, 2 + 2 * bytes);
  }

  /** A random hex quantity of up to `bytes` bytes, minimal form with 0x ("0x0" possible). */
  quantity(bytes: number): string {
    const h = this.hex(bytes).replace(/^0+/, "");
    return h === "" ? "0x0" : `0x${h}`;
  }
}

const SCRATCH = Buffer.allocUnsafe(8200);
const HEX_CODES = new Uint8Array([..."0123456789abcdef"].map((c) => c.charCodeAt(0)));

/**
 * The same string, flattened in place (not a rope), so per-character reads are fast. Converting
 * a string to a number makes V8 flatten it (the `flatstr` trick); the number is discarded.
 */
export function flat(s: string): string {
  (s as unknown as number) | 0;
  return s;
}

/** Two lowercase hex digits for every byte value. */
export const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) =>
  i.toString(16).padStart(2, "0"),
);

/** `0x` and the words as 8 hex digits each, as one flat string. */
export function wordsHex0x(words: readonly number[]): string {
  const buf = SCRATCH;
  buf[0] = 0x30;
  buf[1] = 0x78;
  let p = 2;
  for (const w of words) {
    for (let shift = 28; shift >= 0; shift -= 4) buf[p++] = HEX_CODES[(w >>> shift) & 15]!;
  }
  return buf.toString("latin1", 0, p);
}

/** Eight lowercase hex digits of a 32-bit word. */
export function hexWord(w: number): string {
  return HEX[w >>> 24]! + HEX[(w >>> 16) & 255]! + HEX[(w >>> 8) & 255]! + HEX[w & 255]!;
}
