/**
 * A block's full transactions as columns: what the transactions dataset reads of each one, in
 * typed arrays, decoded from the response bytes by blocks-decode.ts. No JS object per
 * transaction; the only string per transaction is its value (a u256, kept as the hex the node
 * sent, so it is written exactly as on the JSON path).
 */
import { grown } from "./log-columns.ts";

export class TxColumns {
  count = 0;
  private cap: number;
  /** 32 bytes per transaction. */
  hash: Uint8Array;
  /** 20 bytes per transaction. */
  from: Uint8Array;
  /** 20 bytes per transaction; `toPresent[i]` 0 for a contract creation (null or absent). */
  to: Uint8Array;
  toPresent: Uint8Array;
  /** Below 2^52, exact. */
  nonce: Float64Array;
  gas: Float64Array;
  /** Below 2^52, exact; NaN where the transaction does not have the field. */
  gasPrice: Float64Array;
  maxFeePerGas: Float64Array;
  maxPriorityFeePerGas: Float64Array;
  /** The EIP-2718 type (0 when absent, as cryo reads it). */
  type: Uint32Array;
  /** The value as sent: a hex quantity of 1 to 64 digits. */
  value: string[] = [];
  /** Every input's bytes back to back; input i ends at inputEnd[i]. */
  input: Uint8Array;
  inputUsed = 0;
  inputEnd: Uint32Array;
  inputZeros: Uint32Array;
  /** r and s left-padded to 32 bytes; `sigPresent[i]` bit 1 = r present, bit 2 = s present. */
  r: Uint8Array;
  s: Uint8Array;
  sigPresent: Uint8Array;
  /** `v` and `yParity` as sent (below 2^52); NaN where the transaction does not have one. */
  v: Float64Array;
  yParity: Float64Array;
  /**
   * The EIP-2718 encoded length (cryo's n_rlp_bytes), -1 for a type it cannot re-encode, -2 when
   * a field the encoding needs is missing (`rlpMissing` names it).
   */
  rlpLength: Int32Array;
  rlpMissing = new Map<number, string>();

  constructor(cap = 64, inputBytes = cap * 128) {
    this.cap = cap;
    this.hash = new Uint8Array(cap * 32);
    this.from = new Uint8Array(cap * 20);
    this.to = new Uint8Array(cap * 20);
    this.toPresent = new Uint8Array(cap);
    this.nonce = new Float64Array(cap);
    this.gas = new Float64Array(cap);
    this.gasPrice = new Float64Array(cap);
    this.maxFeePerGas = new Float64Array(cap);
    this.maxPriorityFeePerGas = new Float64Array(cap);
    this.type = new Uint32Array(cap);
    this.input = new Uint8Array(inputBytes);
    this.inputEnd = new Uint32Array(cap);
    this.inputZeros = new Uint32Array(cap);
    this.r = new Uint8Array(cap * 32);
    this.s = new Uint8Array(cap * 32);
    this.sigPresent = new Uint8Array(cap);
    this.v = new Float64Array(cap);
    this.yParity = new Float64Array(cap);
    this.rlpLength = new Int32Array(cap);
  }

  /** Make room for one more transaction (its index is `count`), its fields zeroed. */
  reserve(): void {
    if (this.count === this.cap) {
      const cap = this.cap * 2;
      this.hash = grown(this.hash, cap * 32);
      this.from = grown(this.from, cap * 20);
      this.to = grown(this.to, cap * 20);
      this.toPresent = grown(this.toPresent, cap);
      this.nonce = grown(this.nonce, cap);
      this.gas = grown(this.gas, cap);
      this.gasPrice = grown(this.gasPrice, cap);
      this.maxFeePerGas = grown(this.maxFeePerGas, cap);
      this.maxPriorityFeePerGas = grown(this.maxPriorityFeePerGas, cap);
      this.type = grown(this.type, cap);
      this.inputEnd = grown(this.inputEnd, cap);
      this.inputZeros = grown(this.inputZeros, cap);
      this.r = grown(this.r, cap * 32);
      this.s = grown(this.s, cap * 32);
      this.sigPresent = grown(this.sigPresent, cap);
      this.v = grown(this.v, cap);
      this.yParity = grown(this.yParity, cap);
      this.rlpLength = grown(this.rlpLength, cap);
      this.cap = cap;
    }
    const k = this.count;
    this.gasPrice[k] = Number.NaN;
    this.maxFeePerGas[k] = Number.NaN;
    this.maxPriorityFeePerGas[k] = Number.NaN;
    this.v[k] = Number.NaN;
    this.yParity[k] = Number.NaN;
  }

  /** Make room for `n` more input bytes. */
  reserveInput(n: number): void {
    if (this.inputUsed + n <= this.input.length) return;
    this.input = grown(this.input, Math.max(2 * this.input.length, this.inputUsed + n));
  }

  /** Transaction i's hash as 0x + lowercase hex. */
  hashHex(i: number): string {
    return `0x${Buffer.from(this.hash.buffer, this.hash.byteOffset + i * 32, 32).toString("hex")}`;
  }

  /** Every transaction's hash (for the checks that tie receipts to their block). */
  hashes(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.hashHex(i));
    return out;
  }
}

/** Length in bytes of an RLP length prefix for a payload of `n` bytes (rlp.ts uses it too). */
export function rlpPrefixLength(n: number): number {
  if (n <= 55) return 1;
  let len = 1;
  for (let x = n; x > 0xff; x = Math.floor(x / 256)) len++;
  return 1 + len;
}

/** RLP length of a byte string of `n` bytes whose first byte is `first`. */
export function rlpStringLength(n: number, first: number): number {
  if (n === 1 && first < 0x80) return 1;
  return rlpPrefixLength(n) + n;
}

/** RLP length of a list whose items' encodings take `payload` bytes. */
export function rlpListLength(payload: number): number {
  return rlpPrefixLength(payload) + payload;
}
