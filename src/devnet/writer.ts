/**
 * An append-only ASCII byte writer for rendering JSON straight into memory. The synthetic chain
 * renders ~0.5 MB of JSON per block; building that as JS strings produced deep ropes and
 * megabyte-sized flat copies whose garbage collection cost more than generating the data, so
 * random hex payloads are written digit by digit and literals byte by byte instead.
 */
import type { Rng } from "./prng.ts";

const HEX_DIGITS = new Uint8Array([...("0123456789abcdef" as string)].map((c) => c.charCodeAt(0)));

export class ByteWriter {
  buf: Buffer;
  pos = 0;

  constructor(initialBytes = 1 << 16) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  reset(): this {
    this.pos = 0;
    return this;
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + extra));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** ASCII text. A plain loop beats the native encoder only for short strings (measured). */
  ascii(s: string): this {
    const n = s.length;
    this.ensure(n);
    if (n < 24) {
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    } else {
      this.buf.write(s, this.pos, "latin1");
    }
    this.pos += n;
    return this;
  }

  /** Pre-encoded bytes (cheapest for text written many times, like a block's hash fields). */
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  byte(c: number): this {
    this.ensure(1);
    this.buf[this.pos++] = c;
    return this;
  }

  /** A non-negative safe integer as a minimal lowercase hex quantity, with 0x. */
  quantity(v: number): this {
    this.ensure(16);
    const b = this.buf;
    b[this.pos++] = 0x30;
    b[this.pos++] = 0x78;
    if (v < 0x8000_0000) {
      // Small values (most of them): integer shifts instead of float division.
      let digits = 1;
      for (let x = v >>> 4; x !== 0; x >>>= 4) digits++;
      let p = this.pos + digits;
      this.pos = p;
      for (let x = v, k = 0; k < digits; k++, x >>>= 4) b[--p] = HEX_DIGITS[x & 15]!;
      return this;
    }
    let digits = 0;
    for (let x = v; x >= 1; x = Math.floor(x / 16)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    for (let x = v; x >= 1; x = Math.floor(x / 16)) b[--p] = HEX_DIGITS[x % 16]!;
    return this;
  }

  /** `bytes` random bytes as hex digits (no prefix). */
  randomHex(r: Rng, bytes: number): this {
    this.ensure(2 * bytes + 8);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < bytes; i += 4) {
      const w = r.next();
      b[p] = HEX_DIGITS[w >>> 28]!;
      b[p + 1] = HEX_DIGITS[(w >>> 24) & 15]!;
      b[p + 2] = HEX_DIGITS[(w >>> 20) & 15]!;
      b[p + 3] = HEX_DIGITS[(w >>> 16) & 15]!;
      b[p + 4] = HEX_DIGITS[(w >>> 12) & 15]!;
      b[p + 5] = HEX_DIGITS[(w >>> 8) & 15]!;
      b[p + 6] = HEX_DIGITS[(w >>> 4) & 15]!;
      b[p + 7] = HEX_DIGITS[w & 15]!;
      p += 8;
    }
    this.pos += 2 * bytes; // a partial last word leaves digits beyond pos, overwritten later
    return this;
  }

  /** n "0" digits: padding for words that are mostly zeros. */
  zeros(digits: number): this {
    this.ensure(digits);
    this.buf.fill(0x30, this.pos, this.pos + digits);
    this.pos += digits;
    return this;
  }

  bytesFrom(src: Buffer, start = 0, end = src.length): this {
    this.ensure(end - start);
    src.copy(this.buf, this.pos, start, end);
    this.pos += end - start;
    return this;
  }

  /** Mostly-zero bytes (a bloom filter) as hex digits: zeros in bulk, then the set bytes. */
  sparseHexOf(bytes: Uint8Array): this {
    const n = bytes.length;
    this.zeros(2 * n);
    const b = this.buf;
    const base = this.pos - 2 * n;
    for (let i = 0; i < n; i++) {
      const v = bytes[i]!;
      if (v === 0) continue;
      b[base + 2 * i] = HEX_DIGITS[v >>> 4]!;
      b[base + 2 * i + 1] = HEX_DIGITS[v & 15]!;
    }
    return this;
  }

  /** A copy of everything written (the writer's buffer is reused). */
  copy(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}
