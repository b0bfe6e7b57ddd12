/**
 * eth_getBlockByNumber answers (one or a batch) decoded from the response bytes: the header as an
 * object of the hex strings the node sent (as JSON.parse would give them, ~25 per block), and
 * either the transaction hashes only checked (hashes-only blocks) or the full
 * transactions decoded into TxColumns. Every field validateBlock checks is checked the same way.
 * Only the usual form; anything else gives undefined and goes through JSON.parse (see
 * json-bytes.ts): a type with fields this decoder does not know how to re-encode, a fee past
 * 2^52, null where a value is expected, and so on.
 */
import { InvalidResponseError } from "./errors.ts";
import {
  type DecodedItem,
  decodeOrUndefined,
  HEX,
  JsonBytesDecoder,
  keyBytes,
  notCanonical,
} from "./json-bytes.ts";
import { sameHash } from "./log-columns.ts";
import type { ReceiptColumns } from "./receipts-decode.ts";
import { rlpListLength, rlpStringLength, TxColumns } from "./tx-columns.ts";
import type { RpcBlock, RpcBlockHeader } from "./types.ts";

/** One block decoded from bytes. */
export class DecodedBlock {
  constructor(
    readonly header: RpcBlockHeader,
    /** The full transactions, when they were asked for. */
    readonly txs: TxColumns | undefined,
  ) {}

  /** The header with its transaction hashes, for the checks that tie receipts to a block. */
  withHashes(): RpcBlock {
    return { ...this.header, transactions: this.txs ? this.txs.hashes() : [] };
  }

  /**
   * checkReceiptColumns' rules, compared as bytes (no hex string per receipt): one receipt per
   * transaction, each for its transaction, of this block. False when one fails; then
   * checkReceiptColumns(cols, withHashes()) names it.
   */
  matches(cols: ReceiptColumns): boolean {
    const txs = this.txs;
    if (!txs || cols.count !== txs.count) return false;
    const number = Number.parseInt(this.header.number.slice(2), 16);
    const hash = Buffer.from(this.header.hash.slice(2), "hex");
    for (let i = 0; i < txs.count; i++) {
      if (
        cols.blockNumber[i] !== number ||
        !sameHash(cols.transactionHash, i * 32, txs.hash, i * 32) ||
        !sameHash(cols.blockHash, i * 32, hash, 0)
      )
        return false;
    }
    return true;
  }
}

export type DecodedBlockItem = DecodedItem<DecodedBlock>;

/** validateBlock's rule that needs the block asked for; the rest was checked as it was decoded. */
export function checkDecodedBlock(block: DecodedBlock, asked: number): DecodedBlock {
  const got = Number.parseInt(block.header.number.slice(2), 16);
  if (got !== asked)
    throw new InvalidResponseError(`block ${asked}: wrong block returned (number ${got})`);
  return block;
}

export function decodeBlocksResponse(
  body: Buffer,
  fullTransactions: boolean,
): DecodedBlockItem[] | DecodedBlockItem | undefined {
  return decodeOrUndefined(() => {
    const d = new BlocksDecoder(body, fullTransactions);
    return d.answer(() => d.block());
  });
}

type Kind = "hash" | "address" | "quantity" | "data";
/** Header fields kept as strings: [name, kind, required]. */
const HEADER: readonly [string, Kind, boolean][] = [
  ["number", "quantity", true],
  ["hash", "hash", true],
  ["parentHash", "hash", true],
  ["timestamp", "quantity", true],
  ["gasUsed", "quantity", true],
  ["gasLimit", "quantity", true],
  ["miner", "address", true],
  ["extraData", "data", true],
  ["stateRoot", "hash", false],
  ["transactionsRoot", "hash", false],
  ["receiptsRoot", "hash", false],
  ["sha3Uncles", "hash", false],
  ["mixHash", "hash", false],
  ["withdrawalsRoot", "hash", false],
  ["parentBeaconBlockRoot", "hash", false],
  ["baseFeePerGas", "quantity", false],
  ["difficulty", "quantity", false],
  ["totalDifficulty", "quantity", false],
  ["size", "quantity", false],
  ["blobGasUsed", "quantity", false],
  ["excessBlobGas", "quantity", false],
  ["logsBloom", "data", false],
  ["nonce", "data", false],
];
const H_HASH = 1;
const H_UNCLES = HEADER.length;
const H_TRANSACTIONS = HEADER.length + 1;
const HEADER_REQUIRED = HEADER.reduce((m, [, , required], i) => (required ? m | (1 << i) : m), 0);
const HEADER_KEYS = keyTable([...HEADER.map((h) => h[0]), "uncles", "transactions"]);

const TX_FIELDS = [
  "hash",
  "blockHash",
  "blockNumber",
  "transactionIndex",
  "from",
  "to",
  "nonce",
  "value",
  "gas",
  "input",
  "type",
  "gasPrice",
  "maxFeePerGas",
  "maxPriorityFeePerGas",
  "maxFeePerBlobGas",
  "chainId",
  "v",
  "r",
  "s",
  "yParity",
  "accessList",
  "blobVersionedHashes",
  "authorizationList",
] as const;
const T = Object.fromEntries(TX_FIELDS.map((f, i) => [f, i])) as Record<
  (typeof TX_FIELDS)[number],
  number
>;
const TX_KEYS = keyTable(TX_FIELDS);
/** hash, blockHash, blockNumber, transactionIndex, from, nonce, value, gas, input. */
const TX_REQUIRED = [T.hash, T.blockHash, T.blockNumber, T.transactionIndex, T.from]
  .concat([T.nonce, T.value, T.gas, T.input])
  .reduce((m, f) => m | (1 << f), 0);
const ACCESS_KEYS = keyTable(["address", "storageKeys"]);
const AUTH_KEYS = keyTable(["chainId", "address", "nonce", "yParity", "r", "s"]);

/** Keys by length, as [bytes, id] (one byte comparison per candidate of the same length). */
type KeyTable = [Uint8Array, number][][];
function keyTable(keys: readonly string[]): KeyTable {
  const table: KeyTable = [];
  for (let n = 0; n <= Math.max(...keys.map((k) => k.length)); n++) table.push([]);
  for (const [id, k] of keys.entries()) table[k.length]?.push([keyBytes(k), id]);
  return table;
}

const QUOTE = 34;

/** Decoding is synchronous: one scratch for hashes that are checked, not kept. */
const scratch = new Uint8Array(32);
const headerHash = new Uint8Array(32);
/** Room a new block's TxColumns starts with: the last block's size and a quarter. */
let txCapacity = 64;
let inputCapacity = 8192;

class BlocksDecoder extends JsonBytesDecoder {
  private readonly text: Buffer;
  /** RLP length of the last quantity or data read by `rlpQuantity` / `input`. */
  private rlp = 0;
  /** Block numbers and hashes the transactions claim, checked against the header at its end. */
  private txBlockNumber = new Uint32Array(64);
  private txBlockHash = new Uint8Array(64 * 32);
  /** Per transaction: the RLP length of each field read (-1: absent). */
  private readonly fieldRlp = new Int32Array(TX_FIELDS.length);

  constructor(
    body: Buffer,
    private readonly full: boolean,
  ) {
    super(body);
    this.text = body;
  }

  block(): DecodedBlock {
    this.expect(0x7b);
    const header: Record<string, unknown> = {};
    let seen = 0;
    let txs: TxColumns | undefined;
    this.ws();
    if (this.b[this.i] === 0x7d) throw notCanonical;
    for (;;) {
      this.key();
      const field = this.fieldOf(HEADER_KEYS);
      if (field >= 0) {
        if (seen & (2 ** field)) throw notCanonical;
        seen += 2 ** field;
      }
      if (field >= 0 && field < HEADER.length) {
        const [name, kind] = HEADER[field] as [string, Kind, boolean];
        header[name] = this.hexString(kind, field === H_HASH ? headerHash : scratch);
      } else if (field === H_UNCLES) {
        const uncles: string[] = [];
        this.array(() => uncles.push(this.hexString("hash", scratch)));
        header.uncles = uncles;
      } else if (field === H_TRANSACTIONS) {
        if (this.full) {
          txs = new TxColumns(txCapacity, inputCapacity);
          this.array(() => this.transaction(txs as TxColumns));
          // Sized for a block like this one: no growing (copying) while the next is decoded.
          txCapacity = Math.max(64, txs.count + (txs.count >> 2));
          inputCapacity = Math.max(8192, txs.inputUsed + (txs.inputUsed >> 2));
        } else this.array(() => this.hexFixed(scratch, 0, 32));
      } else this.skipValue(0);
      if (this.endOf(0x7d)) break;
    }
    if ((seen & HEADER_REQUIRED) !== HEADER_REQUIRED || (seen & (2 ** H_TRANSACTIONS)) === 0)
      throw notCanonical;
    if (txs) this.checkTransactions(txs, header);
    return new DecodedBlock(header as unknown as RpcBlockHeader, txs);
  }

  /** Each transaction is of this block (a mismatch is left to validateBlock to name). */
  private checkTransactions(txs: TxColumns, header: Record<string, unknown>): void {
    const number = Number.parseInt((header.number as string).slice(2), 16);
    for (let k = 0; k < txs.count; k++) {
      if (this.txBlockNumber[k] !== number || !sameHash(this.txBlockHash, k * 32, headerHash, 0))
        throw notCanonical;
    }
    // The gas price needs the base fee in a double (gasPriceCell's number path).
    const baseFee = header.baseFeePerGas as string | undefined;
    if (baseFee !== undefined && baseFee.length > 15) throw notCanonical;
  }

  /** A header value checked as validateBlock checks its kind, as the string the node sent. */
  private hexString(kind: Kind, into: Uint8Array): string {
    this.ws();
    const start = this.i + 1;
    if (kind === "hash") this.hexFixed(into, 0, 32);
    else if (kind === "address") this.hexFixed(into, 0, 20);
    else if (kind === "quantity") this.quantity(64);
    else this.hexDataSkip();
    return this.text.toString("latin1", start, this.i - 1);
  }

  /** The id of the last key in `table`, -1 for a key not in it. */
  private fieldOf(table: KeyTable): number {
    const list = table[this.keyEnd - this.keyStart];
    if (list === undefined) return -1;
    for (let j = 0; j < list.length; j++) {
      const [k, id] = list[j] as [Uint8Array, number];
      if (this.keyIs(k)) return id;
    }
    return -1;
  }

  private transaction(c: TxColumns): void {
    this.expect(0x7b);
    c.reserve();
    const k = c.count;
    if (k >= this.txBlockNumber.length) {
      const bn = new Uint32Array(2 * k);
      bn.set(this.txBlockNumber);
      this.txBlockNumber = bn;
      const bh = new Uint8Array(64 * k);
      bh.set(this.txBlockHash);
      this.txBlockHash = bh;
    }
    // RLP lengths of the fields the EIP-2718 encoding uses (-1: absent).
    const len = this.fieldRlp.fill(-1);
    let seen = 0;
    this.ws();
    if (this.b[this.i] === 0x7d) throw notCanonical;
    for (;;) {
      this.key();
      const f = this.fieldOf(TX_KEYS);
      if (f >= 0) {
        if (seen & (1 << f)) throw notCanonical;
        seen |= 1 << f;
      }
      switch (f) {
        case T.hash:
          this.hexFixed(c.hash, k * 32, 32);
          break;
        case T.blockHash:
          this.hexFixed(this.txBlockHash, k * 32, 32);
          break;
        case T.blockNumber:
          this.txBlockNumber[k] = this.quantity();
          break;
        case T.transactionIndex:
          if (this.quantity() !== k) throw notCanonical;
          break;
        case T.from:
          this.hexFixed(c.from, k * 20, 20);
          break;
        case T.to:
          if (this.nullHere()) len[f] = 1;
          else {
            this.hexFixed(c.to, k * 20, 20);
            c.toPresent[k] = 1;
            len[f] = 21;
          }
          break;
        case T.nonce:
          c.nonce[k] = this.rlpQuantity(13);
          len[f] = this.rlp;
          break;
        case T.gas:
          c.gas[k] = this.rlpQuantity(13);
          len[f] = this.rlp;
          break;
        case T.gasPrice:
          c.gasPrice[k] = this.rlpQuantity(13);
          len[f] = this.rlp;
          break;
        case T.maxFeePerGas:
          c.maxFeePerGas[k] = this.rlpQuantity(13);
          len[f] = this.rlp;
          break;
        case T.maxPriorityFeePerGas:
          c.maxPriorityFeePerGas[k] = this.rlpQuantity(13);
          len[f] = this.rlp;
          break;
        case T.value: {
          this.ws();
          const start = this.i + 1;
          this.rlpQuantity(64);
          c.value[k] = this.text.toString("latin1", start, this.i - 1);
          len[f] = this.rlp;
          break;
        }
        case T.type:
          c.type[k] = this.rlpQuantity(8);
          break;
        case T.maxFeePerBlobGas:
        case T.chainId:
          this.rlpQuantity(64);
          len[f] = this.rlp;
          break;
        case T.v:
          c.v[k] = this.rlpQuantity(13);
          len[f] = this.rlp;
          break;
        case T.yParity:
          c.yParity[k] = this.rlpQuantity(8);
          len[f] = this.rlp;
          break;
        case T.r:
        case T.s:
          this.paddedQuantity(f === T.r ? c.r : c.s, k * 32);
          c.sigPresent[k] = (c.sigPresent[k] as number) | (f === T.r ? 1 : 2);
          len[f] = this.rlp;
          break;
        case T.input:
          this.input(c, k);
          len[f] = this.rlp;
          break;
        case T.accessList:
          len[f] = this.accessList();
          break;
        case T.blobVersionedHashes: {
          let n = 0;
          this.array(() => {
            this.hexFixed(scratch, 0, 32);
            n++;
          });
          len[f] = rlpListLength(33 * n);
          break;
        }
        case T.authorizationList:
          len[f] = this.authorizationList();
          break;
        default:
          this.skipValue(0);
      }
      if (this.endOf(0x7d)) break;
    }
    if ((seen & TX_REQUIRED) !== TX_REQUIRED) throw notCanonical;
    const encoded = envelopeLength(c.type[k] as number, len);
    if (typeof encoded === "number") c.rlpLength[k] = encoded;
    else {
      c.rlpLength[k] = -2;
      c.rlpMissing.set(k, encoded);
    }
    c.count++;
  }

  /**
   * A quantity (1 to maxDigits digits) as a number (exact up to 13 digits); `rlp` is set to the
   * RLP length of its minimal big-endian bytes.
   */
  private rlpQuantity(maxDigits: number): number {
    this.ws();
    const from = this.i + 3;
    const n = this.quantity(maxDigits);
    const end = this.i - 1;
    let first = from;
    while (first < end && this.b[first] === 48) first++;
    const bytes = (end - first + 1) >> 1;
    this.rlp = bytes === 0 ? 1 : rlpStringLength(bytes, bytes === 1 ? n % 256 : 0xff);
    return n;
  }

  /**
   * r or s: `"0x"` + 1 to 64 hex digits + `"`, left-padded into 32 bytes at `at` (padQuantity);
   * `rlp` = the RLP length of its minimal bytes. One pass over the digits, from the right.
   */
  private paddedQuantity(into: Uint8Array, at: number): void {
    this.ws();
    const b = this.b;
    if (b[this.i] !== QUOTE || b[this.i + 1] !== 48 || b[this.i + 2] !== 120) throw notCanonical;
    const from = this.i + 3;
    const end = b.indexOf(QUOTE, from);
    if (end <= from || end - from > 64) throw notCanonical;
    into.fill(0, at, at + 32);
    let o = at + 32;
    let i = end;
    let low = -1; // the value of the rightmost byte (for a one-byte RLP string)
    let significant = 0; // digits from the first non-zero one on
    for (; i > from; i -= 2) {
      const lo = HEX[b[i - 1] as number] as number;
      const hi = i - 2 >= from ? (HEX[b[i - 2] as number] as number) : 0;
      if (lo < 0 || hi < 0) throw notCanonical;
      const byte = (hi << 4) | lo;
      into[--o] = byte;
      if (low < 0) low = byte;
      if (hi !== 0) significant = end - i + 2;
      else if (lo !== 0) significant = end - i + 1;
    }
    this.i = end + 1;
    const bytes = (significant + 1) >> 1;
    this.rlp = bytes === 0 ? 1 : rlpStringLength(bytes, bytes === 1 ? low : 0xff);
  }

  /** The input's bytes appended to `c` (zero bytes counted); `rlp` = its RLP length. */
  private input(c: TxColumns, k: number): void {
    const b = this.b;
    const { start, end } = this.dataDigits();
    const n = (end - start) >> 1;
    c.reserveInput(n);
    const dst = c.input;
    let at = c.inputUsed;
    let zeros = 0;
    for (let i = start; i < end; i += 2) {
      const hi = HEX[b[i] as number] as number;
      const lo = HEX[b[i + 1] as number] as number;
      if (hi < 0 || lo < 0) throw notCanonical;
      const byte = (hi << 4) | lo;
      if (byte === 0) zeros++;
      dst[at++] = byte;
    }
    c.inputUsed = at;
    c.inputEnd[k] = at;
    c.inputZeros[k] = zeros;
    this.rlp = rlpStringLength(n, n === 1 ? (dst[at - 1] as number) : 0xff);
  }

  /** `[{address, storageKeys: [key, …]}, …]` → its RLP length. */
  private accessList(): number {
    let payload = 0;
    this.array(() => {
      this.expect(0x7b);
      let seen = 0;
      let keys = -1;
      for (;;) {
        this.key();
        const f = this.fieldOf(ACCESS_KEYS);
        if (f < 0 || seen & (1 << f)) throw notCanonical;
        seen |= 1 << f;
        if (f === 0) this.hexFixed(scratch, 0, 20);
        else {
          keys = 0;
          this.array(() => {
            this.hexFixed(scratch, 0, 32);
            keys++;
          });
        }
        if (this.endOf(0x7d)) break;
      }
      if (seen !== 3) throw notCanonical;
      payload += rlpListLength(21 + rlpListLength(33 * keys));
    });
    return rlpListLength(payload);
  }

  /** `[{chainId, address, nonce, yParity, r, s}, …]` → its RLP length. */
  private authorizationList(): number {
    let payload = 0;
    this.array(() => {
      this.expect(0x7b);
      let seen = 0;
      let entry = 0;
      for (;;) {
        this.key();
        const f = this.fieldOf(AUTH_KEYS);
        if (f < 0 || seen & (1 << f)) throw notCanonical;
        seen |= 1 << f;
        if (f === 1) {
          this.hexFixed(scratch, 0, 20);
          entry += 21;
        } else {
          this.rlpQuantity(64);
          entry += this.rlp;
        }
        if (this.endOf(0x7d)) break;
      }
      if (seen !== 63) throw notCanonical;
      payload += rlpListLength(entry);
    });
    return rlpListLength(payload);
  }
}

// The fields of each type's EIP-2718 encoding, in the order rlp.ts's transactionEnvelope reads
// them (so the first missing one is the one it names). "parity" = yParity, else v.
const FEES = [T.chainId, T.nonce, T.maxPriorityFeePerGas, T.maxFeePerGas, T.gas];
const BODY = [T.to, T.value, T.input, T.accessList];
const PARITY = -1;
const SIGNATURE = [PARITY, T.r, T.s];
const ENCODED: Record<number, number[]> = {
  0: [T.nonce, T.gasPrice, T.gas, T.to, T.value, T.input, T.v, T.r, T.s],
  1: [T.chainId, T.nonce, T.gasPrice, T.gas, ...BODY, ...SIGNATURE],
  2: [...FEES, ...BODY, ...SIGNATURE],
  3: [...FEES, ...BODY, T.blobVersionedHashes, T.maxFeePerBlobGas, ...SIGNATURE],
  4: [...FEES, ...BODY, T.authorizationList, ...SIGNATURE],
};

/**
 * The EIP-2718 length from the fields' RLP lengths, as rlp.ts's transactionEnvelope encodes them:
 * -1 for a type it cannot re-encode, or the name of the first field it needs and the transaction
 * does not have (the JSON path fails the n_rlp_bytes column naming it).
 */
function envelopeLength(type: number, len: Int32Array): number | string {
  const fields = ENCODED[type];
  if (!fields) return -1;
  let payload = 0;
  for (const f of fields) {
    let n: number;
    if (f === T.to || f === T.accessList)
      n = Math.max(len[f] as number, 1); // absent: empty
    else if (f === PARITY)
      n = (len[T.yParity] as number) >= 0 ? (len[T.yParity] as number) : (len[T.v] as number);
    else n = len[f] as number;
    if (n < 0) return f === PARITY ? "yParity" : (TX_FIELDS[f] as string);
    payload += n;
  }
  return (type === 0 ? 0 : 1) + rlpListLength(payload);
}
