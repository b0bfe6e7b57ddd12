import {
  Bool,
  type Data,
  type DataType,
  Float32,
  Float64,
  LargeBinary,
  LargeUtf8,
  makeData,
  Uint32,
  Uint64,
} from "apache-arrow";
import { decodeHexInto } from "../core/hex-decode.ts";

/**
 * Growable, typed column buffers that become Arrow `Data` without per-value boxing. Every column
 * is nullable (cryo writes every column as OPTIONAL), so each builder keeps a validity bitmap and
 * only materialises it when a null was actually appended.
 */
export type ColumnType = "u32" | "u64" | "f32" | "f64" | "bool" | "binary" | "utf8";

export function arrowType(type: ColumnType): DataType {
  switch (type) {
    case "u32":
      return new Uint32();
    case "u64":
      return new Uint64();
    case "f32":
      return new Float32();
    case "f64":
      return new Float64();
    case "bool":
      return new Bool();
    case "binary":
      return new LargeBinary();
    case "utf8":
      return new LargeUtf8();
  }
}

class Validity {
  private bits = new Uint8Array(64);
  nulls = 0;

  /**
   * Until the first null the bitmap is not written at all (most columns never see one): the
   * first null back-fills "valid" for every earlier row.
   */
  set(i: number, valid: boolean): void {
    if (valid && this.nulls === 0) return;
    const byte = i >> 3;
    if (byte >= this.bits.length) this.bits = grow(this.bits, byte + 1);
    if (valid) this.bits[byte] = (this.bits[byte] ?? 0) | (1 << (i & 7));
    else if (this.nulls++ === 0) this.markValidBefore(i);
  }

  private markValidBefore(i: number): void {
    this.bits.fill(0xff, 0, i >> 3);
    for (let j = i & ~7; j < i; j++) this.bits[j >> 3] = (this.bits[j >> 3] ?? 0) | (1 << (j & 7));
  }

  /** Rows from..from+n, valid unless their `present` entry is 0 (all valid without it). */
  setMany(from: number, n: number, present: Uint8Array | undefined): void {
    if (present === undefined && this.nulls === 0) return;
    for (let k = 0; k < n; k++) this.set(from + k, present === undefined || present[k] !== 0);
  }

  /** The bitmap, or undefined when there were no nulls (Arrow's "all valid" shorthand). */
  take(length: number): Uint8Array | undefined {
    if (this.nulls === 0) return undefined;
    return this.bits.slice(0, (length + 7) >> 3);
  }
}

function grow<T extends Uint8Array | Uint32Array | Float32Array | Float64Array | BigInt64Array>(
  buf: T,
  min: number,
): T {
  let size = buf.length * 2;
  while (size < min) size *= 2;
  const next = new (buf.constructor as new (n: number) => T)(size);
  next.set(buf as never);
  return next;
}

export interface ColumnBuilder {
  readonly type: ColumnType;
  readonly length: number;
  /** Approximate bytes buffered so far; used to cut record batches by size. */
  readonly byteSize: number;
  appendNull(): void;
  /** Returns the Arrow data and resets the builder for the next batch. */
  finish(): Data;
}

/** u32 / f32 / f64 columns: one fixed-width slot per row. */
export class FixedColumn implements ColumnBuilder {
  private values: Uint32Array | Float32Array | Float64Array;
  private validity = new Validity();
  length = 0;

  constructor(readonly type: "u32" | "f32" | "f64") {
    this.values =
      type === "u32"
        ? new Uint32Array(1024)
        : type === "f32"
          ? new Float32Array(1024)
          : new Float64Array(1024);
  }

  get byteSize(): number {
    return this.length * this.values.BYTES_PER_ELEMENT;
  }

  append(v: number): void {
    if (this.length >= this.values.length) this.values = grow(this.values, this.length + 1);
    this.values[this.length] = v;
    this.validity.set(this.length++, true);
  }

  appendNull(): void {
    if (this.length >= this.values.length) this.values = grow(this.values, this.length + 1);
    this.values[this.length] = 0;
    this.validity.set(this.length++, false);
  }

  /** Every value of `values`, none null. */
  appendMany(values: Uint32Array | Float32Array | Float64Array): void {
    const n = values.length;
    if (this.length + n > this.values.length) this.values = grow(this.values, this.length + n);
    this.values.set(values, this.length);
    this.validity.setMany(this.length, n, undefined);
    this.length += n;
  }

  finish(): Data {
    const data = makeData({
      type: arrowType(this.type) as Uint32,
      length: this.length,
      nullCount: this.validity.nulls,
      nullBitmap: this.validity.take(this.length),
      data: this.values.slice(0, this.length) as Uint32Array,
    });
    this.reset();
    return data;
  }

  private reset(): void {
    this.length = 0;
    this.validity = new Validity();
  }
}

/** u64 as two u32 halves (little-endian), so hex can be parsed without BigInt on the hot path. */
export class U64Column implements ColumnBuilder {
  readonly type = "u64";
  private words = new Uint32Array(2048);
  private validity = new Validity();
  length = 0;

  get byteSize(): number {
    return this.length * 8;
  }

  appendWords(lo: number, hi: number): void {
    this.put(lo, hi, true);
  }

  private put(lo: number, hi: number, valid: boolean): void {
    const at = this.length * 2;
    if (at + 2 > this.words.length) this.words = grow(this.words, at + 2);
    this.words[at] = lo;
    this.words[at + 1] = hi;
    this.validity.set(this.length++, valid);
  }

  /** A non-negative safe integer. */
  appendNumber(n: number): void {
    this.appendWords(n >>> 0, Math.floor(n / 0x1_0000_0000) >>> 0);
  }

  /** Wrapping (low 64 bits), like Rust's `as u64`. */
  appendBigInt(v: bigint): void {
    const w = BigInt.asUintN(64, v);
    this.appendWords(Number(w & 0xffff_ffffn), Number(w >> 32n));
  }

  appendNull(): void {
    this.put(0, 0, false);
  }

  /** The same non-negative safe integer `n` times. */
  appendRepeated(value: number, n: number): void {
    for (let k = 0; k < n; k++) this.appendNumber(value);
  }

  finish(): Data {
    const values = new BigUint64Array(this.words.slice(0, this.length * 2).buffer);
    const data = makeData({
      type: new Uint64(),
      length: this.length,
      nullCount: this.validity.nulls,
      nullBitmap: this.validity.take(this.length),
      data: values,
    });
    this.length = 0;
    this.validity = new Validity();
    return data;
  }
}

export class BoolColumn implements ColumnBuilder {
  readonly type = "bool";
  private bits = new Uint8Array(128);
  private validity = new Validity();
  length = 0;

  get byteSize(): number {
    return this.length >> 3;
  }

  append(v: boolean): void {
    const byte = this.length >> 3;
    if (byte >= this.bits.length) this.bits = grow(this.bits, byte + 1);
    if (v) this.bits[byte] = (this.bits[byte] ?? 0) | (1 << (this.length & 7));
    this.validity.set(this.length++, true);
  }

  appendNull(): void {
    const byte = this.length >> 3;
    if (byte >= this.bits.length) this.bits = grow(this.bits, byte + 1);
    this.validity.set(this.length++, false);
  }

  finish(): Data {
    const data = makeData({
      type: new Bool(),
      length: this.length,
      nullCount: this.validity.nulls,
      nullBitmap: this.validity.take(this.length),
      data: this.bits.slice(0, (this.length + 7) >> 3),
    });
    this.length = 0;
    this.bits = new Uint8Array(128);
    this.validity = new Validity();
    return data;
  }
}

/**
 * LargeBinary / LargeUtf8 (64-bit offsets, as cryo's polars writer declares them). Values are
 * written straight into one growing byte buffer, through a Buffer view of it that is made once
 * per growth (not per value), so Node's native hex/utf8 encoders can write in place.
 */
export class BytesColumn implements ColumnBuilder {
  private bytes = new Uint8Array(16 * 1024);
  /** A Buffer over `bytes` (same memory): write values at `reserve()`'s offset, then `commit`. */
  view = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  private used = 0;
  /**
   * Offsets as little-endian (low, high) u32 word pairs, read back as one BigInt64Array: no
   * BigInt is allocated per value.
   */
  private offsetWords = new Uint32Array(2 * 1025);
  private validity = new Validity();
  /**
   * Hex digit strings appended with `appendHexDigits` and not decoded yet; their bytes go
   * consecutively from `pendingAt`. One native decode per batch instead of one per value (the
   * per-call cost dominated for 20- and 32-byte values).
   */
  private pending: string[] = [];
  private pendingAt = 0;
  length = 0;

  constructor(readonly type: "binary" | "utf8") {}

  get byteSize(): number {
    return this.used + this.length * 8;
  }

  private ensure(n: number): void {
    if (this.used + n > this.bytes.length) {
      this.bytes = grow(this.bytes, this.used + n);
      this.view = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    }
  }

  /** Make room for the next value's `n` bytes; returns the offset in `view` to write them at. */
  reserve(n: number): number {
    if (this.pending.length > 0) throw new Error("BytesColumn: decode pending hex before reserve");
    this.ensure(n);
    return this.used;
  }

  /**
   * Append a value given as hex digits (an even number, no `0x`). It is decoded, and its digits
   * checked, by `decodePending` — here once 64 KiB are pending (bounding the joined string), and
   * at the latest before `finish`. Returns what that decode returned (a malformed value or
   * undefined).
   */
  appendHexDigits(digits: string): string | undefined {
    const n = digits.length >> 1;
    if (this.pending.length === 0) this.pendingAt = this.used;
    this.ensure(n);
    this.pending.push(digits);
    this.used += n;
    this.pushOffset(true);
    return this.used - this.pendingAt >= 64 * 1024 ? this.decodePending() : undefined;
  }

  /**
   * Decode every pending hex value in one call. Returns undefined when all were well-formed,
   * otherwise the first malformed digit string (the column's bytes are then not usable: call
   * `discard`). Node's hex decoder stops at the first non-hex digit, so a short count is exact.
   */
  decodePending(): string | undefined {
    if (this.pending.length === 0) return undefined;
    if (!decodeHexInto(this.view, this.pending.join(""), this.pendingAt)) {
      // Rare (the RPC client validates first): find which value it was, for the message.
      let at = this.pendingAt;
      for (const digits of this.pending) {
        if (!decodeHexInto(this.view, digits, at)) return digits;
        at += digits.length >> 1;
      }
      throw new Error("BytesColumn: hex decode wrote fewer bytes than its values hold");
    }
    this.pending = [];
    return undefined;
  }

  /** Drop everything buffered (a failed batch) without decoding it. */
  discard(): void {
    this.pending = [];
    this.reset();
  }

  /** Close the value whose `n` bytes were written after `reserve`. */
  commit(n: number): void {
    this.used += n;
    this.pushOffset(true);
  }

  append(value: Uint8Array): void {
    const at = this.reserve(value.length);
    this.bytes.set(value, at);
    this.commit(value.length);
  }

  /** ASCII / latin1-safe strings only (decimal numbers, hex): one byte per char. */
  appendAscii(s: string): void {
    const at = this.reserve(s.length);
    const bytes = this.bytes;
    for (let i = 0; i < s.length; i++) bytes[at + i] = s.charCodeAt(i);
    this.commit(s.length);
  }

  appendNull(): void {
    this.pushOffset(false);
  }

  /**
   * `n` values of `width` bytes each, value k at `data[start + k·width]`; a value whose
   * `present` entry is 0 is null. As 0x hex text in a utf8 column (`--hex`).
   */
  appendFixedWidth(
    data: Uint8Array,
    start: number,
    width: number,
    n: number,
    present?: Uint8Array,
  ): void {
    if (this.type === "utf8") {
      for (let k = 0; k < n; k++) {
        const at = start + k * width;
        if (present !== undefined && present[k] === 0) this.appendNull();
        else this.appendHexText(data, at, at + width);
      }
      return;
    }
    if (present === undefined) {
      this.ensure(n * width);
      this.bytes.set(data.subarray(start, start + n * width), this.used);
      for (let k = 0; k < n; k++) {
        this.used += width;
        this.pushOffset(true);
      }
      return;
    }
    for (let k = 0; k < n; k++) {
      if (present[k] === 0) {
        this.appendNull();
        continue;
      }
      this.ensure(width);
      this.bytes.set(data.subarray(start + k * width, start + (k + 1) * width), this.used);
      this.used += width;
      this.pushOffset(true);
    }
  }

  /**
   * `ends.length` values back to back in `data` from `start`: value k ends at `ends[k]`. As 0x
   * hex text in a utf8 column (`--hex`).
   */
  appendConsecutive(data: Uint8Array, start: number, ends: Uint32Array): void {
    const n = ends.length;
    if (n === 0) return;
    if (this.type === "utf8") {
      let from = start;
      for (let k = 0; k < n; k++) {
        this.appendHexText(data, from, ends[k] as number);
        from = ends[k] as number;
      }
      return;
    }
    const total = (ends[n - 1] as number) - start;
    this.ensure(total);
    this.bytes.set(data.subarray(start, start + total), this.used);
    const base = this.used - start;
    for (let k = 0; k < n; k++) {
      this.used = base + (ends[k] as number);
      this.pushOffset(true);
    }
  }

  /** data[from, to) as lowercase `0x` hex text. */
  private appendHexText(data: Uint8Array, from: number, to: number): void {
    const at = this.reserve(2 + 2 * (to - from));
    this.bytes[at] = 48;
    this.bytes[at + 1] = 120;
    const hex = Buffer.from(data.buffer, data.byteOffset + from, to - from).toString("hex");
    this.view.write(hex, at + 2, "latin1");
    this.commit(2 + hex.length);
  }

  private pushOffset(valid: boolean): void {
    const at = 2 * (this.length + 1);
    if (at + 2 > this.offsetWords.length) this.offsetWords = grow(this.offsetWords, at + 2);
    this.offsetWords[at] = this.used >>> 0;
    this.offsetWords[at + 1] = Math.floor(this.used / 0x1_0000_0000);
    this.validity.set(this.length++, valid);
  }

  finish(): Data {
    if (this.decodePending() !== undefined) throw new Error("BytesColumn: malformed hex value");
    const offsets = new BigInt64Array(this.offsetWords.slice(0, 2 * (this.length + 1)).buffer);
    const data = makeData({
      type: (this.type === "binary" ? new LargeBinary() : new LargeUtf8()) as LargeBinary,
      length: this.length,
      nullCount: this.validity.nulls,
      nullBitmap: this.validity.take(this.length),
      valueOffsets: offsets,
      data: this.bytes.slice(0, this.used),
    });
    this.reset();
    return data;
  }

  private reset(): void {
    this.length = 0;
    this.used = 0;
    this.offsetWords = new Uint32Array(2 * 1025);
    this.validity = new Validity();
  }
}

export function newColumn(type: ColumnType): FixedColumn | U64Column | BoolColumn | BytesColumn {
  switch (type) {
    case "u32":
    case "f32":
    case "f64":
      return new FixedColumn(type);
    case "u64":
      return new U64Column();
    case "bool":
      return new BoolColumn();
    case "binary":
    case "utf8":
      return new BytesColumn(type);
  }
}
