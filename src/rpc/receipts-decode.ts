/**
 * eth_getBlockReceipts answers (one or a batch) decoded from the response bytes into
 * ReceiptColumns: what the transactions dataset reads of a receipt (gasUsed, status) and what
 * ties it to its block (hashes, numbers), with every other field and every log checked as
 * validateReceipt checks them, but no JS object or string made for any of it. Only the usual
 * form; anything else gives undefined and goes through JSON.parse (see json-bytes.ts).
 */
import { InvalidResponseError } from "./errors.ts";
import {
  type DecodedItem,
  decodeOrUndefined,
  JsonBytesDecoder,
  keyBytes,
  notCanonical,
} from "./json-bytes.ts";
import { grown, LogColumns, sameHash } from "./log-columns.ts";
import type { RpcBlock } from "./types.ts";
import { blockTxHashes } from "./validate.ts";

export class ReceiptColumns {
  count = 0;
  private cap: number;
  /** 32 bytes per receipt. */
  transactionHash: Uint8Array;
  /** 32 bytes per receipt. */
  blockHash: Uint8Array;
  blockNumber: Uint32Array;
  /** Below 2^52, exact. */
  gasUsed: Float64Array;
  /** The status (0 or 1 in practice), -1 for a pre-Byzantium receipt (a state root instead). */
  status: Float64Array;

  constructor(cap: number) {
    this.cap = cap;
    this.transactionHash = new Uint8Array(cap * 32);
    this.blockHash = new Uint8Array(cap * 32);
    this.blockNumber = new Uint32Array(cap);
    this.gasUsed = new Float64Array(cap);
    this.status = new Float64Array(cap);
  }

  /** Make room for one more receipt (its index is `count`). */
  reserve(): void {
    if (this.count < this.cap) return;
    const cap = this.cap * 2;
    this.transactionHash = grown(this.transactionHash, cap * 32);
    this.blockHash = grown(this.blockHash, cap * 32);
    this.blockNumber = grown(this.blockNumber, cap);
    this.gasUsed = grown(this.gasUsed, cap);
    this.status = grown(this.status, cap);
    this.cap = cap;
  }

  hex(of: "transactionHash" | "blockHash", i: number): string {
    const b = this[of];
    return `0x${Buffer.from(b.buffer, b.byteOffset + i * 32, 32).toString("hex")}`;
  }
}

export type DecodedReceiptsItem = DecodedItem<ReceiptColumns>;

export function decodeReceiptsResponse(
  body: Uint8Array,
): DecodedReceiptsItem[] | DecodedReceiptsItem | undefined {
  try {
    return decodeOrUndefined(() => {
      const d = new ReceiptsDecoder(body);
      return d.answer(() => d.receipts());
    });
  } finally {
    if (receiptLogs.capacity > KEEP_LOGS) receiptLogs = new LogColumns(256);
  }
}

/**
 * validateBlockReceipts' rules that need the block, for receipts decoded from bytes (the rest
 * was checked as they were decoded): one receipt per transaction, each for its transaction, of
 * this block. The messages are validateReceipt's.
 */
export function checkReceiptColumns(cols: ReceiptColumns, block: RpcBlock): ReceiptColumns {
  const number = Number.parseInt(block.number.slice(2), 16);
  const where = `block ${number}`;
  const hashes = blockTxHashes(block);
  const fail = (message: string): never => {
    throw new InvalidResponseError(message);
  };
  if (cols.count !== hashes.length)
    fail(`${where}: ${cols.count} receipts for ${hashes.length} transactions`);
  const blockHash = block.hash.toLowerCase();
  for (let i = 0; i < cols.count; i++) {
    const txHash = hashes[i] as string;
    if (cols.hex("transactionHash", i) !== txHash.toLowerCase()) {
      fail(
        `${where}: receipt ${i}: transactionHash ${cols.hex("transactionHash", i)} does not match the block's transaction ${i} (${txHash})`,
      );
    }
    if (cols.hex("blockHash", i) !== blockHash) {
      fail(
        `${where}: receipt ${i}: receipt for the wrong block (blockHash ${cols.hex("blockHash", i)}, block is ${block.hash})`,
      );
    }
    if (cols.blockNumber[i] !== number)
      fail(
        `${where}: receipt ${i}: receipt for the wrong block (blockNumber ${cols.blockNumber[i]})`,
      );
  }
  return cols;
}

// Receipt fields, one bit each; the first eight are required, and status or root.
const R_TX_HASH = 1;
const R_TX_INDEX = 2;
const R_BLOCK_HASH = 4;
const R_BLOCK_NUMBER = 8;
const R_FROM = 16;
const R_GAS_USED = 32;
const R_CUMULATIVE = 64;
const R_LOGS = 128;
const REQUIRED = 255;
const R_STATUS = 256;
const R_ROOT = 512;
const R_TO = 1024;
const R_CONTRACT = 2048;
const R_BLOOM = 4096;
const R_EFFECTIVE_GAS_PRICE = 8192;
const R_TYPE = 16384;
const R_BLOB_GAS_USED = 32768;
const R_BLOB_GAS_PRICE = 65536;

const K = {
  transactionHash: keyBytes("transactionHash"),
  transactionIndex: keyBytes("transactionIndex"),
  blockHash: keyBytes("blockHash"),
  blockNumber: keyBytes("blockNumber"),
  from: keyBytes("from"),
  gasUsed: keyBytes("gasUsed"),
  cumulativeGasUsed: keyBytes("cumulativeGasUsed"),
  logs: keyBytes("logs"),
  status: keyBytes("status"),
  root: keyBytes("root"),
  to: keyBytes("to"),
  contractAddress: keyBytes("contractAddress"),
  logsBloom: keyBytes("logsBloom"),
  effectiveGasPrice: keyBytes("effectiveGasPrice"),
  type: keyBytes("type"),
  blobGasUsed: keyBytes("blobGasUsed"),
  blobGasPrice: keyBytes("blobGasPrice"),
};

/**
 * A receipt's logs are decoded here, checked against it, and dropped (a set grown past
 * KEEP_LOGS by an unusually large receipt is dropped after the answer).
 */
let receiptLogs = new LogColumns(256);
const KEEP_LOGS = 16_384;
const address = new Uint8Array(20);

class ReceiptsDecoder extends JsonBytesDecoder {
  receipts(): ReceiptColumns {
    const out = new ReceiptColumns(64);
    let lastLogIndex = -1;
    this.array(() => {
      lastLogIndex = this.receipt(out, lastLogIndex);
    });
    return out;
  }

  /**
   * One receipt into `c`; its logs must belong to it and continue the block's log indices after
   * `lastLogIndex`. Returns the last log index so far.
   */
  private receipt(c: ReceiptColumns, lastLogIndex: number): number {
    this.expect(0x7b);
    c.reserve();
    const k = c.count;
    let seen = 0;
    let txIndex = -1;
    receiptLogs.clear();
    this.ws();
    if (this.b[this.i] === 0x7d) throw notCanonical;
    for (;;) {
      this.key();
      const field = this.receiptField();
      if (field !== 0 && (seen & field) !== 0) throw notCanonical;
      seen |= field;
      switch (field) {
        case R_TX_HASH:
          this.hexFixed(c.transactionHash, k * 32, 32);
          break;
        case R_TX_INDEX:
          txIndex = this.quantity();
          break;
        case R_BLOCK_HASH:
          this.hexFixed(c.blockHash, k * 32, 32);
          break;
        case R_BLOCK_NUMBER:
          c.blockNumber[k] = this.quantity();
          break;
        case R_FROM:
          this.hexFixed(address, 0, 20);
          break;
        case R_TO:
        case R_CONTRACT:
          if (!this.nullHere()) this.hexFixed(address, 0, 20);
          break;
        case R_GAS_USED:
          c.gasUsed[k] = this.quantity(13);
          break;
        case R_CUMULATIVE:
          this.quantity(13);
          break;
        case R_STATUS:
          c.status[k] = this.quantity();
          break;
        case R_ROOT:
        case R_BLOOM:
          this.hexDataSkip();
          break;
        case R_EFFECTIVE_GAS_PRICE:
        case R_TYPE:
        case R_BLOB_GAS_USED:
        case R_BLOB_GAS_PRICE:
          this.quantity(64);
          break;
        case R_LOGS:
          this.array(() => this.log(receiptLogs));
          break;
        default:
          this.skipValue(0);
      }
      if (this.endOf(0x7d)) break;
    }
    if ((seen & REQUIRED) !== REQUIRED || (seen & (R_STATUS | R_ROOT)) === 0 || txIndex !== k)
      throw notCanonical;
    if ((seen & R_STATUS) === 0) c.status[k] = -1;
    // Its logs are of this block and transaction, with increasing indices; anything else is
    // left to validateReceipt, which names the problem.
    let last = lastLogIndex;
    for (let j = 0; j < receiptLogs.count; j++) {
      const logIndex = receiptLogs.logIndex[j] as number;
      if (
        receiptLogs.blockNumber[j] !== c.blockNumber[k] ||
        receiptLogs.transactionIndex[j] !== k ||
        logIndex <= last ||
        !sameHash(receiptLogs.blockHash, j * 32, c.blockHash, k * 32) ||
        !sameHash(receiptLogs.transactionHash, j * 32, c.transactionHash, k * 32)
      )
        throw notCanonical;
      last = logIndex;
    }
    c.count++;
    return last;
  }

  /** The receipt field the last key names (0 for one not read), by length first. */
  private receiptField(): number {
    switch (this.keyEnd - this.keyStart) {
      case 2:
        return this.keyIs(K.to) ? R_TO : 0;
      case 4:
        return this.keyIs(K.logs)
          ? R_LOGS
          : this.keyIs(K.from)
            ? R_FROM
            : this.keyIs(K.type)
              ? R_TYPE
              : this.keyIs(K.root)
                ? R_ROOT
                : 0;
      case 6:
        return this.keyIs(K.status) ? R_STATUS : 0;
      case 7:
        return this.keyIs(K.gasUsed) ? R_GAS_USED : 0;
      case 9:
        return this.keyIs(K.blockHash) ? R_BLOCK_HASH : this.keyIs(K.logsBloom) ? R_BLOOM : 0;
      case 11:
        return this.keyIs(K.blockNumber)
          ? R_BLOCK_NUMBER
          : this.keyIs(K.blobGasUsed)
            ? R_BLOB_GAS_USED
            : 0;
      case 12:
        return this.keyIs(K.blobGasPrice) ? R_BLOB_GAS_PRICE : 0;
      case 15:
        return this.keyIs(K.transactionHash)
          ? R_TX_HASH
          : this.keyIs(K.contractAddress)
            ? R_CONTRACT
            : 0;
      case 16:
        return this.keyIs(K.transactionIndex) ? R_TX_INDEX : 0;
      case 17:
        return this.keyIs(K.cumulativeGasUsed)
          ? R_CUMULATIVE
          : this.keyIs(K.effectiveGasPrice)
            ? R_EFFECTIVE_GAS_PRICE
            : 0;
      default:
        return 0;
    }
  }
}
