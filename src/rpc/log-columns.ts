/**
 * eth_getLogs results as columns: the bytes and numbers of every log in typed arrays, with no
 * JS object or string per log. `decodeLogsResponse` (logs-decode.ts) fills them straight from
 * the response bytes; `fromJson` converts a JSON.parse'd answer (the fallback path).
 */
import { InvalidResponseError } from "./errors.ts";
import type { LogFilter, RpcLog } from "./types.ts";

export const TOPICS = 4;

export class LogColumns {
  count = 0;
  private cap: number;
  blockNumber: Uint32Array;
  logIndex: Uint32Array;
  transactionIndex: Uint32Array;
  /** 32 bytes per log. */
  blockHash: Uint8Array;
  /** 32 bytes per log. */
  transactionHash: Uint8Array;
  /** 20 bytes per log. */
  address: Uint8Array;
  /** How many topics each log has (0–4); topic t of log i is topics[t][32i, 32i+32) (bytes unspecified for t ≥ its count). */
  topicCount: Uint8Array;
  topics: Uint8Array[];
  /** Every log's data, back to back; log i's ends at dataEnd[i] (and starts at the previous end). */
  data: Uint8Array;
  dataUsed = 0;
  dataEnd: Uint32Array;

  constructor(cap = 16) {
    this.cap = cap;
    this.blockNumber = new Uint32Array(cap);
    this.logIndex = new Uint32Array(cap);
    this.transactionIndex = new Uint32Array(cap);
    this.blockHash = new Uint8Array(cap * 32);
    this.transactionHash = new Uint8Array(cap * 32);
    this.address = new Uint8Array(cap * 20);
    this.topicCount = new Uint8Array(cap);
    this.topics = [0, 1, 2, 3].map(() => new Uint8Array(cap * 32));
    this.data = new Uint8Array(cap * 96);
    this.dataEnd = new Uint32Array(cap);
  }

  /** Logs it has room for without growing. */
  get capacity(): number {
    return this.cap;
  }

  /** Make room for one more log (its index is `count`); the caller fills it, then `count++`. */
  reserveLog(): void {
    if (this.count < this.cap) return;
    const cap = Math.max(16, this.cap * 2);
    this.blockNumber = grown(this.blockNumber, cap);
    this.logIndex = grown(this.logIndex, cap);
    this.transactionIndex = grown(this.transactionIndex, cap);
    this.blockHash = grown(this.blockHash, cap * 32);
    this.transactionHash = grown(this.transactionHash, cap * 32);
    this.address = grown(this.address, cap * 20);
    this.topicCount = grown(this.topicCount, cap);
    this.topics = this.topics.map((t) => grown(t, cap * 32));
    this.dataEnd = grown(this.dataEnd, cap);
    this.cap = cap;
  }

  /** Make room for `n` more data bytes at `dataUsed`. */
  reserveData(n: number): void {
    if (this.dataUsed + n <= this.data.length) return;
    let size = Math.max(1024, this.data.length * 2);
    while (size < this.dataUsed + n) size *= 2;
    this.data = grown(this.data, size);
  }

  /** A copy holding exactly these logs (the decoder fills one large scratch set, then copies). */
  copy(): LogColumns {
    const n = this.count;
    const out = new LogColumns(0);
    out.cap = n;
    out.count = n;
    out.blockNumber = this.blockNumber.slice(0, n);
    out.logIndex = this.logIndex.slice(0, n);
    out.transactionIndex = this.transactionIndex.slice(0, n);
    out.blockHash = this.blockHash.slice(0, n * 32);
    out.transactionHash = this.transactionHash.slice(0, n * 32);
    out.address = this.address.slice(0, n * 20);
    out.topicCount = this.topicCount.slice(0, n);
    out.topics = this.topics.map((t) => t.slice(0, n * 32));
    out.data = this.data.slice(0, this.dataUsed);
    out.dataUsed = this.dataUsed;
    out.dataEnd = this.dataEnd.slice(0, n);
    return out;
  }

  /** Empty again, keeping the room (the decoder's scratch set). */
  clear(): void {
    this.count = 0;
    this.dataUsed = 0;
  }

  /** Log k's data (k = count: the log being filled). */
  private appendData(k: number, data: Uint8Array): void {
    this.reserveData(data.length);
    this.data.set(data, this.dataUsed);
    this.dataUsed += data.length;
    this.dataEnd[k] = this.dataUsed;
  }

  dataStart(i: number): number {
    return i === 0 ? 0 : (this.dataEnd[i - 1] as number);
  }

  /** Lowercase 0x hex of log i's block hash (for messages and the cross-check with blocks). */
  blockHashHex(i: number): string {
    return `0x${Buffer.from(this.blockHash.buffer, this.blockHash.byteOffset + i * 32, 32).toString("hex")}`;
  }

  /** The logs in the order of `order` (indices into this), as a new set of columns. */
  reorder(order: ArrayLike<number>): LogColumns {
    const out = new LogColumns(Math.max(1, order.length));
    for (let k = 0; k < order.length; k++) {
      const i = order[k] as number;
      out.reserveLog();
      out.blockNumber[k] = this.blockNumber[i] as number;
      out.logIndex[k] = this.logIndex[i] as number;
      out.transactionIndex[k] = this.transactionIndex[i] as number;
      out.blockHash.set(this.blockHash.subarray(i * 32, i * 32 + 32), k * 32);
      out.transactionHash.set(this.transactionHash.subarray(i * 32, i * 32 + 32), k * 32);
      out.address.set(this.address.subarray(i * 20, i * 20 + 20), k * 20);
      out.topicCount[k] = this.topicCount[i] as number;
      for (let t = 0; t < TOPICS; t++) {
        (out.topics[t] as Uint8Array).set(
          (this.topics[t] as Uint8Array).subarray(i * 32, i * 32 + 32),
          k * 32,
        );
      }
      out.appendData(k, this.data.subarray(this.dataStart(i), this.dataEnd[i]));
      out.count++;
    }
    return out;
  }

  /**
   * Logs that validateLogs accepted, as columns; undefined when one does not fit them (a block
   * number or index of 2^32 or more): the caller then keeps the JSON objects.
   */
  static fromJson(logs: readonly RpcLog[]): LogColumns | undefined {
    const out = new LogColumns(Math.max(1, logs.length));
    for (const log of logs) {
      const k = out.count;
      out.reserveLog();
      const block = u32(log.blockNumber);
      const index = u32(log.logIndex);
      const txIndex = u32(log.transactionIndex);
      if (block < 0 || index < 0 || txIndex < 0) return undefined;
      out.blockNumber[k] = block;
      out.logIndex[k] = index;
      out.transactionIndex[k] = txIndex;
      out.blockHash.set(Buffer.from(log.blockHash.slice(2), "hex"), k * 32);
      out.transactionHash.set(Buffer.from(log.transactionHash.slice(2), "hex"), k * 32);
      out.address.set(Buffer.from(log.address.slice(2), "hex"), k * 20);
      out.topicCount[k] = log.topics.length;
      log.topics.forEach((t, j) => {
        (out.topics[j] as Uint8Array).set(Buffer.from(t.slice(2), "hex"), k * 32);
      });
      out.appendData(k, Buffer.from(log.data.slice(2), "hex"));
      out.count++;
    }
    return out;
  }
}

/** A copy of `a` with room for `size` elements. */
export function grown<T extends Uint8Array | Int8Array | Uint32Array | Int32Array | Float64Array>(
  a: T,
  size: number,
): T {
  const next = new (a.constructor as new (n: number) => T)(size);
  next.set(a as never);
  return next;
}

/** A hex quantity below 2^32 as a number, -1 otherwise. */
function u32(hex: string): number {
  const n = Number.parseInt(hex.slice(2), 16);
  return n >= 0 && n < 2 ** 32 ? n : -1;
}

/**
 * validateLogs' rules for logs decoded into columns (their shape and hex were checked by the
 * decoder): every log inside the filter's range, one block hash per block (equal to a hash this
 * client already knows for it), no (block, logIndex) twice. Returns the logs in cryo's order,
 * (block, logIndex): nodes send them so, and anything else is put in order here.
 */
export function checkLogColumns(
  cols: LogColumns,
  filter: LogFilter,
  knownHash: (block: number) => string | undefined,
): LogColumns {
  const range = `blocks ${filter.fromBlock}..${filter.toBlock}`;
  // Built only for a message: this runs for every log.
  const where = (n: number, i: number) => `block ${n}: log ${i} of ${range}`;
  const fail = (message: string): never => {
    throw new InvalidResponseError(message);
  };
  let sorted = true;
  /** Index of the first log of the current block, whose hash the others must equal. */
  let blockFirst = -1;
  const firstOf = new Map<number, number>();
  for (let i = 0; i < cols.count; i++) {
    const n = cols.blockNumber[i] as number;
    if (n < filter.fromBlock || n > filter.toBlock)
      fail(`${where(n, i)}: block ${n} is outside the requested range`);
    if (blockFirst < 0 || cols.blockNumber[blockFirst] !== n) {
      const seen = firstOf.get(n);
      if (seen === undefined) {
        blockFirst = i;
        firstOf.set(n, i);
        const known = knownHash(n);
        if (known !== undefined && known.toLowerCase() !== cols.blockHashHex(i)) {
          fail(
            `${where(n, i)}: log for the wrong block (blockHash ${cols.blockHashHex(i)}, block is ${known})`,
          );
        }
      } else blockFirst = seen;
    }
    if (blockFirst !== i && !sameHash(cols.blockHash, blockFirst * 32, cols.blockHash, i * 32)) {
      fail(
        `${where(n, i)}: log for the wrong block (blockHash ${cols.blockHashHex(i)}, block is ${cols.blockHashHex(blockFirst)})`,
      );
    }
    if (i > 0) {
      const pn = cols.blockNumber[i - 1] as number;
      const pi = cols.logIndex[i - 1] as number;
      const li = cols.logIndex[i] as number;
      if (pn === n && pi === li) fail(`${where(n, i)}: duplicate logIndex ${li}`);
      if (pn > n || (pn === n && pi > li)) sorted = false;
    }
  }
  if (sorted) return cols;
  const order = Array.from({ length: cols.count }, (_, i) => i).sort(
    (a, b) =>
      (cols.blockNumber[a] as number) - (cols.blockNumber[b] as number) ||
      (cols.logIndex[a] as number) - (cols.logIndex[b] as number),
  );
  for (let k = 1; k < order.length; k++) {
    const a = order[k - 1] as number;
    const b = order[k] as number;
    if (cols.blockNumber[a] === cols.blockNumber[b] && cols.logIndex[a] === cols.logIndex[b]) {
      fail(
        `block ${cols.blockNumber[b]}: log ${b} of ${range}: duplicate logIndex ${cols.logIndex[b]}`,
      );
    }
  }
  return cols.reorder(order);
}

/** The 32 bytes at a[x] equal those at b[y]. */
export function sameHash(a: Uint8Array, x: number, b: Uint8Array, y: number): boolean {
  for (let k = 0; k < 32; k++) if (a[x + k] !== b[y + k]) return false;
  return true;
}
