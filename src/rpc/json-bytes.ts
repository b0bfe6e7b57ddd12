/**
 * The machinery of the fast-path decoders (logs-decode.ts, receipts-decode.ts): JSON-RPC
 * answers read straight from the response bytes, in their usual, canonical form only.
 *
 * Why by hand: JSON.parse makes several strings and objects per log or receipt, which
 * validation then reads again and the row builders decode once more; for the logs and
 * transactions datasets that was most of the client's CPU and GC (bench/extract.ts). No JSON
 * library turns bytes into typed columns.
 *
 * It is a fast path, not a second validator. A decoder takes only the common, canonical form
 * (the fields a value must have, well-formed hex, no escapes where values are read, no error
 * items) and throws `notCanonical` for anything else; `decodeOrUndefined` turns that into
 * undefined, and the caller then decodes the text with JSON.parse and the validators of
 * validate.ts, which accept or reject it with their precise messages. What a decoder skips is
 * still checked to be JSON, so whatever it accepts, JSON.parse accepts too, with the same values.
 */
import { type LogColumns, TOPICS } from "./log-columns.ts";

/** A decoded item of an answer, shaped like the JSON one so the client can index it by id. */
export interface DecodedItem<T> {
  jsonrpc: "2.0";
  id: number;
  result: T;
}

/** Thrown inside the decoder to give up; never escapes it. */
class NotCanonical extends Error {}
export const notCanonical = new NotCanonical("not the canonical form");

/** A hex digit's value by character code, -1 for a character that is not one. */
export const HEX = new Int8Array(256).fill(-1);
for (let d = 0; d < 10; d++) HEX[48 + d] = d;
for (let d = 0; d < 6; d++) {
  HEX[97 + d] = 10 + d;
  HEX[65 + d] = 10 + d;
}

const QUOTE = 34;
const BACKSLASH = 92;

export function keyBytes(k: string): Uint8Array {
  return Buffer.from(k, "latin1");
}
// Log fields, one bit each; the last three are the ones it must have besides the hex ones.
const F_ADDRESS = 1;
const F_TOPICS = 2;
const F_DATA = 4;
const F_BLOCK_NUMBER = 8;
const F_BLOCK_HASH = 16;
const F_TX_HASH = 32;
const F_TX_INDEX = 64;
const F_LOG_INDEX = 128;
const F_REMOVED = 256;
const REQUIRED = 255;
const K_ADDRESS = keyBytes("address");
const K_TOPICS = keyBytes("topics");
const K_DATA = keyBytes("data");
const K_BLOCK_NUMBER = keyBytes("blockNumber");
const K_BLOCK_HASH = keyBytes("blockHash");
const K_TX_HASH = keyBytes("transactionHash");
const K_TX_INDEX = keyBytes("transactionIndex");
const K_LOG_INDEX = keyBytes("logIndex");
const K_REMOVED = keyBytes("removed");
const K_JSONRPC = keyBytes("jsonrpc");
const K_ID = keyBytes("id");
const K_RESULT = keyBytes("result");
const FALSE = keyBytes("false");
const TRUE = keyBytes("true");
const NULL = keyBytes("null");
/** Characters allowed after a backslash (besides u). */
const ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);
const MAX_DEPTH = 64;
/** `decode()`, or undefined when it found the bytes outside the canonical form. */
export function decodeOrUndefined<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch (error) {
    if (error === notCanonical) return undefined;
    throw error;
  }
}

export class JsonBytesDecoder {
  protected i = 0;
  protected keyStart = 0;
  protected keyEnd = 0;
  constructor(protected readonly b: Uint8Array) {}

  /** The whole answer: a batch of items or one item, each read by `result`. */
  answer<T>(result: () => T): DecodedItem<T>[] | DecodedItem<T> {
    this.ws();
    let out: DecodedItem<T>[] | DecodedItem<T>;
    if (this.b[this.i] === 0x5b /* [ */) {
      this.i++;
      const items: DecodedItem<T>[] = [];
      this.ws();
      if (this.b[this.i] === 0x5d) throw notCanonical;
      for (;;) {
        items.push(this.item(result));
        if (this.endOf(0x5d /* ] */)) break;
      }
      out = items;
    } else out = this.item(result);
    this.ws();
    if (this.i !== this.b.length) throw notCanonical;
    return out;
  }

  /** `{"jsonrpc":"2.0","id":N,"result":…}`, keys in any order. */
  private item<T>(read: () => T): DecodedItem<T> {
    this.expect(0x7b /* { */);
    let id = -1;
    let result: T | undefined;
    this.ws();
    if (this.b[this.i] === 0x7d) throw notCanonical;
    for (;;) {
      this.key();
      if (this.keyIs(K_ID)) {
        if (id >= 0) throw notCanonical;
        id = this.integer();
      } else if (this.keyIs(K_RESULT)) {
        if (result !== undefined) throw notCanonical;
        result = read();
      } else if (this.keyIs(K_JSONRPC)) this.skipValue(0);
      else throw notCanonical; // "error", or anything unexpected
      if (this.endOf(0x7d /* } */)) break;
    }
    if (id < 0 || result === undefined) throw notCanonical;
    return { jsonrpc: "2.0", id, result };
  }

  /** `[item, …]` (or `[]`), each read by `read`. */
  protected array(read: () => void): void {
    this.expect(0x5b);
    this.ws();
    if (this.b[this.i] === 0x5d) {
      this.i++;
      return;
    }
    for (;;) {
      read();
      if (this.endOf(0x5d)) break;
    }
  }

  /** One log object, appended to `c` (its fields checked, none missing). */
  protected log(c: LogColumns): void {
    this.expect(0x7b);
    c.reserveLog();
    const k = c.count;
    let seen = 0;
    this.ws();
    if (this.b[this.i] === 0x7d) throw notCanonical;
    for (;;) {
      this.key();
      const field = this.logField();
      if (field !== 0 && (seen & field) !== 0) throw notCanonical;
      seen |= field;
      switch (field) {
        case F_ADDRESS:
          this.hexFixed(c.address, k * 20, 20);
          break;
        case F_TOPICS:
          c.topicCount[k] = this.topics(c, k);
          break;
        case F_DATA:
          this.hexData(c);
          c.dataEnd[k] = c.dataUsed;
          break;
        case F_BLOCK_NUMBER:
          c.blockNumber[k] = this.quantity();
          break;
        case F_BLOCK_HASH:
          this.hexFixed(c.blockHash, k * 32, 32);
          break;
        case F_TX_HASH:
          this.hexFixed(c.transactionHash, k * 32, 32);
          break;
        case F_TX_INDEX:
          c.transactionIndex[k] = this.quantity();
          break;
        case F_LOG_INDEX:
          c.logIndex[k] = this.quantity();
          break;
        case F_REMOVED:
          // `removed: true` (a reorged-out log) is refused by validateLogs with its own message.
          this.literal(FALSE);
          break;
        default:
          this.skipValue(0); // e.g. blockTimestamp
      }
      if (this.endOf(0x7d)) break;
    }
    if ((seen & REQUIRED) !== REQUIRED) throw notCanonical;
    c.count++;
  }

  protected topics(c: LogColumns, k: number): number {
    this.expect(0x5b);
    this.ws();
    if (this.b[this.i] === 0x5d) {
      this.i++;
      return 0;
    }
    let n = 0;
    for (;;) {
      if (n === TOPICS) throw notCanonical;
      this.hexFixed(c.topics[n] as Uint8Array, k * 32, 32);
      n++;
      if (this.endOf(0x5d)) break;
    }
    return n;
  }

  /** The log field the last key names (0 for one the logs dataset does not read). */
  protected logField(): number {
    // By length first: one comparison of bytes per key instead of one per known field.
    switch (this.keyEnd - this.keyStart) {
      case 4:
        return this.keyIs(K_DATA) ? F_DATA : 0;
      case 6:
        return this.keyIs(K_TOPICS) ? F_TOPICS : 0;
      case 7:
        return this.keyIs(K_ADDRESS) ? F_ADDRESS : this.keyIs(K_REMOVED) ? F_REMOVED : 0;
      case 8:
        return this.keyIs(K_LOG_INDEX) ? F_LOG_INDEX : 0;
      case 9:
        return this.keyIs(K_BLOCK_HASH) ? F_BLOCK_HASH : 0;
      case 11:
        return this.keyIs(K_BLOCK_NUMBER) ? F_BLOCK_NUMBER : 0;
      case 15:
        return this.keyIs(K_TX_HASH) ? F_TX_HASH : 0;
      case 16:
        return this.keyIs(K_TX_INDEX) ? F_TX_INDEX : 0;
      default:
        return 0;
    }
  }

  /** `"0x"` + exactly 2·n hex digits + `"`, decoded into dst at `at`. */
  protected hexFixed(dst: Uint8Array, at: number, n: number): void {
    this.ws();
    const b = this.b;
    let i = this.i;
    if (i + 4 + 2 * n > b.length || b[i] !== QUOTE || b[i + 1] !== 48 || b[i + 2] !== 120)
      throw notCanonical;
    i += 3;
    for (let k = 0; k < n; k++, i += 2) {
      const hi = HEX[b[i] as number] as number;
      const lo = HEX[b[i + 1] as number] as number;
      if (hi < 0 || lo < 0) throw notCanonical;
      dst[at + k] = (hi << 4) | lo;
    }
    if (b[i] !== QUOTE) throw notCanonical;
    this.i = i + 1;
  }

  /**
   * A DATA string's digits: `"0x"`, then an even number of characters up to the closing quote
   * (the caller checks they are hex digits), at [start, end). Moves past the closing quote.
   */
  protected dataDigits(): { start: number; end: number } {
    this.ws();
    const b = this.b;
    const start = this.i + 3;
    if (b[this.i] !== QUOTE || b[this.i + 1] !== 48 || b[this.i + 2] !== 120) throw notCanonical;
    const end = b.indexOf(QUOTE, start);
    if (end < 0 || (end - start) % 2 !== 0) throw notCanonical;
    this.i = end + 1;
    return { start, end };
  }

  /** `"0x"` + an even number of hex digits + `"`, appended to the data column. */
  protected hexData(c: LogColumns): void {
    const b = this.b;
    let { start: i, end } = this.dataDigits();
    const n = (end - i) >> 1;
    c.reserveData(n);
    const dst = c.data;
    let at = c.dataUsed;
    for (; i < end; i += 2) {
      const hi = HEX[b[i] as number] as number;
      const lo = HEX[b[i + 1] as number] as number;
      if (hi < 0 || lo < 0) throw notCanonical;
      dst[at++] = (hi << 4) | lo;
    }
    c.dataUsed = at;
  }

  /**
   * `"0x"` + 1 to `maxDigits` hex digits + `"`, as a number: 8 digits (the default) keep it
   * below 2^32, 13 below 2^52 (exact as a double). Up to 64 digits can be checked, but the
   * value is then not exact.
   */
  protected quantity(maxDigits = 8): number {
    this.ws();
    const b = this.b;
    let i = this.i;
    if (b[i] !== QUOTE || b[i + 1] !== 48 || b[i + 2] !== 120) throw notCanonical;
    i += 3;
    let n = 0;
    const from = i;
    for (;;) {
      const c = b[i];
      if (c === QUOTE) break;
      const d = c === undefined ? -1 : (HEX[c] as number);
      if (d < 0 || i - from >= maxDigits) throw notCanonical;
      n = n * 16 + d;
      i++;
    }
    if (i === from) throw notCanonical;
    this.i = i + 1;
    return n;
  }

  /** `"0x"` + an even number of hex digits + `"` (DATA), checked and skipped. */
  protected hexDataSkip(): void {
    const b = this.b;
    const { start, end } = this.dataDigits();
    for (let i = start; i < end; i++) if ((HEX[b[i] as number] as number) < 0) throw notCanonical;
  }

  /** `null` (consumed: true) or something else (left: false). */
  protected nullHere(): boolean {
    this.ws();
    if (this.b[this.i] !== 0x6e /* n */) return false;
    this.literal(NULL);
    return true;
  }

  /** A non-negative integer id without sign, fraction or exponent. */
  protected integer(): number {
    this.ws();
    const b = this.b;
    let i = this.i;
    let n = 0;
    const from = i;
    while (i < b.length && (b[i] as number) >= 48 && (b[i] as number) <= 57 && i - from < 15) {
      n = n * 10 + ((b[i] as number) - 48);
      i++;
    }
    const next = b[i];
    // Not an id of ours: empty, a leading zero (not JSON), too long, or a fraction or exponent.
    if (
      i === from ||
      (b[from] === 48 && i - from > 1) ||
      isDigit(next) ||
      next === 0x2e ||
      next === 0x65 ||
      next === 0x45
    )
      throw notCanonical;
    this.i = i;
    return n;
  }

  protected literal(word: Uint8Array): void {
    this.ws();
    for (let k = 0; k < word.length; k++) if (this.b[this.i + k] !== word[k]) throw notCanonical;
    this.i += word.length;
  }

  /** A key and its colon; its characters are then at [keyStart, keyEnd). */
  protected key(): void {
    this.ws();
    const b = this.b;
    if (b[this.i] !== QUOTE) throw notCanonical;
    const start = this.i + 1;
    let end = start;
    while (end < b.length && b[end] !== QUOTE) {
      if (b[end] === BACKSLASH || (b[end] as number) < 0x20) throw notCanonical;
      end++;
    }
    if (end >= b.length) throw notCanonical;
    this.keyStart = start;
    this.keyEnd = end;
    this.i = end + 1;
    this.expect(0x3a /* : */);
  }

  protected keyIs(key: Uint8Array): boolean {
    const start = this.keyStart;
    if (this.keyEnd - start !== key.length) return false;
    for (let k = 0; k < key.length; k++) if (this.b[start + k] !== key[k]) return false;
    return true;
  }

  /** Skip any JSON value, checking it as JSON.parse would (so nothing it refuses gets through). */
  protected skipValue(depth: number): void {
    if (depth > MAX_DEPTH) throw notCanonical;
    this.ws();
    const b = this.b;
    const c = b[this.i];
    if (c === QUOTE) this.skipString();
    else if (c === 0x7b || c === 0x5b) {
      const close = c === 0x7b ? 0x7d : 0x5d;
      this.i++;
      this.ws();
      if (b[this.i] === close) {
        this.i++;
        return;
      }
      for (;;) {
        if (close === 0x7d) this.key();
        this.skipValue(depth + 1);
        if (this.endOf(close)) break;
      }
    } else if (c === 0x74 /* t */) this.literal(TRUE);
    else if (c === 0x66 /* f */) this.literal(FALSE);
    else if (c === 0x6e /* n */) this.literal(NULL);
    else this.skipNumber();
  }

  /** A string with valid escapes and no raw control characters. */
  protected skipString(): void {
    const b = this.b;
    let i = this.i + 1;
    for (;;) {
      const c = b[i];
      if (c === undefined || c < 0x20) throw notCanonical;
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        const e = b[i + 1];
        if (e === 0x75 /* u */) {
          for (let k = 2; k < 6; k++) if ((HEX[b[i + k] ?? 0] as number) < 0) throw notCanonical;
          i += 6;
        } else if (e !== undefined && ESCAPES.has(e)) i += 2;
        else throw notCanonical;
      } else i++;
    }
    this.i = i + 1;
  }

  /** JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
  protected skipNumber(): void {
    const b = this.b;
    let i = this.i;
    const digits = () => {
      const from = i;
      while (isDigit(b[i])) i++;
      if (i === from) throw notCanonical;
    };
    if (b[i] === 0x2d) i++;
    if (b[i] === 48) i++;
    else digits();
    if (b[i] === 0x2e) {
      i++;
      digits();
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++;
      if (b[i] === 0x2b || b[i] === 0x2d) i++;
      digits();
    }
    this.i = i;
  }

  /** After a member: `,` (more follow, false) or `close` (true). */
  protected endOf(close: number): boolean {
    this.ws();
    const c = this.b[this.i];
    this.i++;
    if (c === 0x2c) return false;
    if (c === close) return true;
    throw notCanonical;
  }

  protected expect(c: number): void {
    this.ws();
    if (this.b[this.i] !== c) throw notCanonical;
    this.i++;
  }

  protected ws(): void {
    const b = this.b;
    let i = this.i;
    for (;;) {
      const c = b[i];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
    this.i = i;
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}
