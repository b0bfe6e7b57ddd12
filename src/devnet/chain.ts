/**
 * A deterministic synthetic EVM chain. Every block is a pure function of (seed, options, block
 * number): generated lazily from a cheap PRNG, rendered to exactly the JSON a geth/erigon node
 * returns (keys in Erigon's alphabetical order, minimal lowercase hex quantities, 32-byte hashes,
 * 20-byte addresses), and kept in a small LRU because one mainnet-sized block is ~1 MB of JSON.
 *
 * Internally consistent: parentHash links, receipts per transaction with matching
 * block/transaction fields, block-global log indices, monotone cumulativeGasUsed, block gasUsed =
 * sum of receipt gasUsed, effectiveGasPrice from the tx type and base fee, logsBloom of a receipt
 * covering its logs and the block's bloom covering all receipts.
 *
 * Not a real EVM: hashes are not keccak of anything (block and tx hashes embed their position
 * under a mask so a hash can be resolved without an index), blooms take their bits from the
 * values' own last bytes instead of keccak, state/transaction/receipt roots are random.
 */

import { type LogCriteria, logMatches, parseLogCriteria, toQuantity } from "./params.ts";
import { flat, fmix32, HEX, hashString, hexWord, Rng } from "./prng.ts";
import { ByteWriter } from "./writer.ts";

export interface ChainOptions {
  /** Any number or string; the same seed and options always give the same chain. Default 1. */
  seed?: number | string;
  /** Default 31337. */
  chainId?: number;
  /** Number of blocks; the head is length - 1. Default 1,000,000. */
  length?: number;
  /** Mean transactions per block. Default 150 (mainnet-like). */
  txsPerBlock?: number;
  /** Mean logs per block (spread over successful transactions). Default 300. */
  logsPerBlock?: number;
  /** Per-block counts vary uniformly within ±jitter of the means. 0 gives exact counts. Default 0.2. */
  jitter?: number;
  /** Timestamp of block 0 (seconds). Default 1,700,000,000. */
  startTimestamp?: number;
  /** Seconds between blocks. Default 12. */
  blockTime?: number;
  /** Rendered blocks kept in memory (each is ~1 MB at default sizes). Default 32. */
  cacheBlocks?: number;
}

export const TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
export const APPROVAL_TOPIC = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925";
export const EMPTY_UNCLES_HASH =
  "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347";
export const EMPTY_TRIE_ROOT = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421";
export const ZERO_HASH = `0x${"0".repeat(64)}`;
const ZERO_BLOOM = `0x${"0".repeat(512)}`;
const OPEN_BRACKET = Buffer.from("[");
const CLOSE_BRACKET = Buffer.from("]");
const COMMA = Buffer.from(",");
const CLOSE_BRACKET_BRACE = Buffer.from("]}");
const GWEI = 1_000_000_000;
const BLOB_GAS_PER_BLOB = 131_072;
const WITHDRAWALS_PER_BLOCK = 16;
const MAX_LENGTH = 2 ** 32; // hashes embed the block number in 32 bits
const MAX_TXS = 2 ** 20;

// Independent PRNG streams, so e.g. a block's tx count is known without generating the block.
const S_BLOCK = 1;
const S_BLOCK_HASH = 2;
const S_TX_HASH = 3;
const S_COUNTS = 4;
const S_POOLS = 5;
const KIND_BLOCK = 0xb;
const KIND_TX = 0x7;

/** A log as the JSON-RPC returns it. */
export interface RpcLog {
  address: string;
  blockHash: string;
  blockNumber: string;
  blockTimestamp: string;
  data: string;
  logIndex: string;
  removed: boolean;
  topics: string[];
  transactionHash: string;
  transactionIndex: string;
}

/** eth_getLogs filter for the pure accessor: numbers for the range, spec semantics otherwise. */
export interface SyntheticLogFilter {
  fromBlock: number;
  toBlock: number;
  address?: string | string[] | null;
  topics?: Array<string | string[] | null>;
}

interface LogModel {
  address: string;
  topics: string[];
}

/**
 * One generated block, rendered eagerly into bytes (full block, receipts, logs) in one pass.
 * Bytes rather than strings: megabytes of JSON built by string concatenation are deep ropes and
 * large-object copies, and their garbage collection cost more than generating the data.
 * Element i of a rendered list spans [offsets[i], offsets[i + 1] - 1).
 */
interface BlockModel {
  number: number;
  header: string; // every block field except transactions, without braces
  txHashes: string[];
  full: Buffer;
  fullOffsets: number[];
  hashes?: Buffer;
  receipts: Buffer;
  receiptOffsets: number[];
  logs: LogModel[];
  logBytes: Buffer;
  logOffsets: number[];
}

interface TxInfo {
  type: number;
  from: string;
  to: string | null;
  contractAddress: string | null;
  gasUsed: number;
  cumulativeGasUsed: number;
  gasPrice: number;
  blobs: number;
  success: boolean;
  calls: boolean;
  logStart: number;
  logCount: number;
}

interface Pools {
  eoas: string[];
  paddedEoas: string[];
  contracts: string[];
  tokens: string[];
  builders: string[];
  events: string[];
  extraData: string[];
}

const q = toQuantity;
const CREATION_PREFIX = "608060405234801561001057600080fd5b50";

export class SyntheticChain {
  readonly seed: number;
  readonly chainId: number;
  readonly txsPerBlock: number;
  readonly logsPerBlock: number;
  readonly jitter: number;
  readonly startTimestamp: number;
  readonly blockTime: number;
  private len: number;
  private readonly cacheSize: number;
  private readonly cache = new Map<number, BlockModel>();
  private readonly pools: Pools;
  // Scratch writers reused across blocks; each block's bytes are copied out once at the end.
  private readonly txw = new ByteWriter(1 << 20);
  private readonly rw = new ByteWriter(1 << 20);
  private readonly lw = new ByteWriter(1 << 19);

  constructor(opts: ChainOptions = {}) {
    const seed = opts.seed ?? 1;
    this.seed = typeof seed === "number" ? hashString(`n:${seed}`) : hashString(`s:${seed}`);
    this.chainId = checkInt(opts.chainId ?? 31337, "chainId", 1, 2 ** 48);
    this.len = checkInt(opts.length ?? 1_000_000, "length", 1, MAX_LENGTH);
    this.txsPerBlock = checkInt(opts.txsPerBlock ?? 150, "txsPerBlock", 0, MAX_TXS / 2);
    this.logsPerBlock = checkInt(opts.logsPerBlock ?? 300, "logsPerBlock", 0, 1_000_000);
    this.jitter = opts.jitter ?? 0.2;
    if (!(this.jitter >= 0 && this.jitter <= 1)) {
      throw new RangeError(`jitter must be within 0..1, got ${opts.jitter}`);
    }
    this.startTimestamp = checkInt(
      opts.startTimestamp ?? 1_700_000_000,
      "startTimestamp",
      0,
      2 ** 40,
    );
    this.blockTime = checkInt(opts.blockTime ?? 12, "blockTime", 0, 86_400);
    this.cacheSize = checkInt(opts.cacheBlocks ?? 32, "cacheBlocks", 1, 100_000);
    this.pools = makePools(this.seed);
  }

  /** Number of blocks (head + 1). */
  get length(): number {
    return this.len;
  }

  get head(): number {
    return this.len - 1;
  }

  /** Grow the chain (blocks do not depend on the length, so existing blocks do not change). */
  extend(blocks = 1): number {
    this.len = checkInt(this.len + blocks, "length", 1, MAX_LENGTH);
    return this.head;
  }

  has(n: number): boolean {
    return Number.isSafeInteger(n) && n >= 0 && n < this.len;
  }

  // ---- pure accessors (no block generation) ------------------------------------------------

  blockHash(n: number): string {
    return taggedHash(this.seed, KIND_BLOCK, n, 0);
  }

  parentHash(n: number): string {
    return n === 0 ? ZERO_HASH : this.blockHash(n - 1);
  }

  timestamp(n: number): number {
    return this.startTimestamp + n * this.blockTime;
  }

  txCount(n: number): number {
    return this.counts(n).txs;
  }

  /** Mean-varied log target of a block (the actual count is 0 when no tx succeeded). */
  logTarget(n: number): number {
    return this.counts(n).logs;
  }

  txHash(n: number, index: number): string {
    return taggedHash(this.seed, KIND_TX, n, index);
  }

  /** The block a hash names, if it is one of this chain's blocks (up to the current head). */
  locateBlock(hash: string): number | undefined {
    const d = untag(this.seed, hash);
    if (d === undefined || d.kind !== KIND_BLOCK || d.i !== 0 || !this.has(d.n)) return undefined;
    return this.blockHash(d.n) === hash.toLowerCase() ? d.n : undefined;
  }

  /** Block number and index of a transaction hash of this chain, if it is one. */
  locateTx(hash: string): { blockNumber: number; index: number } | undefined {
    const d = untag(this.seed, hash);
    if (d === undefined || d.kind !== KIND_TX || !this.has(d.n)) return undefined;
    if (d.i >= this.txCount(d.n) || this.txHash(d.n, d.i) !== hash.toLowerCase()) return undefined;
    return { blockNumber: d.n, index: d.i };
  }

  // ---- node-shaped views (bytes, as the server sends them) -----------------------------------

  /** eth_getBlockByNumber JSON bytes, or null beyond the head. */
  blockBytes(n: number, fullTx: boolean): Buffer | null {
    if (!this.has(n)) return null;
    const m = this.model(n);
    if (fullTx) return m.full;
    m.hashes ??= Buffer.from(
      `{${m.header},"transactions":[${m.txHashes.map((h) => `"${h}"`).join(",")}]}`,
      "latin1",
    );
    return m.hashes;
  }

  /** eth_getBlockReceipts JSON bytes, or null beyond the head. */
  receiptsBytes(n: number): Buffer | null {
    return this.has(n) ? this.model(n).receipts : null;
  }

  /** eth_getTransactionByHash JSON bytes, or null for a hash that is not on this chain. */
  transactionBytes(hash: string): Buffer | null {
    const at = this.locateTx(hash);
    if (at === undefined) return null;
    const m = this.model(at.blockNumber);
    return element(m.full, m.fullOffsets, at.index);
  }

  /** eth_getTransactionReceipt JSON bytes, or null for a hash that is not on this chain. */
  transactionReceiptBytes(hash: string): Buffer | null {
    const at = this.locateTx(hash);
    if (at === undefined) return null;
    const m = this.model(at.blockNumber);
    return element(m.receipts, m.receiptOffsets, at.index);
  }

  /** eth_getLogs over [from, to] (clamped to the chain) as JSON bytes. */
  logsBytes(from: number, to: number, criteria: LogCriteria): Buffer {
    const parts: Buffer[] = [OPEN_BRACKET];
    for (let n = Math.max(0, from); n <= Math.min(to, this.head); n++) {
      const m = this.model(n);
      for (let k = 0; k < m.logs.length; k++) {
        if (!logMatches(m.logs[k]!, criteria)) continue;
        if (parts.length > 1) parts.push(COMMA);
        parts.push(element(m.logBytes, m.logOffsets, k));
      }
    }
    parts.push(CLOSE_BRACKET);
    return Buffer.concat(parts);
  }

  // ---- parsed forms, for tests and tools (the server only uses the bytes) --------------------

  blockJson(n: number, fullTx: boolean): string | null {
    return this.blockBytes(n, fullTx)?.toString("latin1") ?? null;
  }

  receiptsJson(n: number): string | null {
    return this.receiptsBytes(n)?.toString("latin1") ?? null;
  }

  // biome-ignore lint/suspicious/noExplicitAny: node JSON, shape documented by the JSON-RPC spec
  block(n: number, fullTx: boolean): Record<string, any> | null {
    const j = this.blockJson(n, fullTx);
    return j === null ? null : JSON.parse(j);
  }

  // biome-ignore lint/suspicious/noExplicitAny: node JSON, shape documented by the JSON-RPC spec
  receipts(n: number): Array<Record<string, any>> | null {
    const j = this.receiptsJson(n);
    return j === null ? null : JSON.parse(j);
  }

  // biome-ignore lint/suspicious/noExplicitAny: node JSON, shape documented by the JSON-RPC spec
  transactionReceipt(hash: string): Record<string, any> | null {
    const j = this.transactionReceiptBytes(hash);
    return j === null ? null : JSON.parse(j.toString("latin1"));
  }

  /** eth_getLogs semantics over a numeric range (clamped to the chain). */
  logs(filter: SyntheticLogFilter): RpcLog[] {
    const criteria = parseLogCriteria(filter.address, filter.topics);
    return JSON.parse(
      this.logsBytes(filter.fromBlock, filter.toBlock, criteria).toString("latin1"),
    );
  }

  // ---- generation ----------------------------------------------------------------------------

  private counts(n: number): { txs: number; logs: number } {
    const r = new Rng(this.seed, n, S_COUNTS);
    const vary = (mean: number) =>
      Math.max(0, Math.round(mean * (1 + this.jitter * (2 * r.float() - 1))));
    return { txs: Math.min(MAX_TXS - 1, vary(this.txsPerBlock)), logs: vary(this.logsPerBlock) };
  }

  private model(n: number): BlockModel {
    const hit = this.cache.get(n);
    if (hit !== undefined) {
      // Re-insert: Map iteration order is insertion order, which makes this an LRU.
      this.cache.delete(n);
      this.cache.set(n, hit);
      return hit;
    }
    const m = this.generate(n);
    this.cache.set(n, m);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return m;
  }

  private generate(n: number): BlockModel {
    const p = this.pools;
    const r = new Rng(this.seed, n, S_BLOCK);
    const { txs: txCount, logs: logTarget } = this.counts(n);
    const hash = this.blockHash(n);
    const baseFee = GWEI + r.int(60 * GWEI);
    const blobGasPrice = 1 + r.int(r.chance(0.7) ? 4 : 5 * GWEI);
    const gasLimit = Math.max(30_000_000, Math.ceil((txCount * 42_000) / 1_000_000) * 1_000_000);
    // Mean gas per tx such that the sum stays within the limit (each tx uses < 2 × mean).
    const meanGas = Math.max(
      21_000,
      Math.min(150_000, Math.floor((gasLimit * 0.5) / Math.max(1, txCount))),
    );
    const tsHex = q(this.timestamp(n));
    const numHex = q(n);
    const blockFields = flat(
      `"blockHash":"${hash}","blockNumber":"${numHex}","blockTimestamp":"${tsHex}"`,
    );
    const chainIdField = flat(`,"chainId":"${q(this.chainId)}","from":"`);
    const receiptBlockFields = flat(blockFields.slice(0, blockFields.indexOf(',"blockTimestamp"')));

    // Transactions, written as they are drawn.
    const w = this.txw.reset();
    const txs: TxInfo[] = [];
    const txHashes: string[] = [];
    const txOffsets: number[] = [];
    let cumulative = 0;
    let blobs = 0;
    let size = 620 + WITHDRAWALS_PER_BLOCK * 28;
    for (let i = 0; i < txCount; i++) {
      const roll = r.float();
      const type = roll < 0.15 ? 0 : roll < 0.18 ? 1 : roll < 0.95 ? 2 : 3;
      const creation = type !== 3 && r.chance(0.02);
      const success = !r.chance(0.04);
      const from = p.eoas[r.int(p.eoas.length)]!;
      const plain = !creation && type !== 3 && r.chance(0.25);
      const to = creation
        ? null
        : plain
          ? p.eoas[r.int(p.eoas.length)]!
          : p.contracts[r.int(p.contracts.length)]!;
      const gasUsed = plain ? 21_000 : 21_000 + r.int(2 * (meanGas - 21_000) + 1);
      const gas = success && r.chance(0.9) ? gasUsed + r.int(gasUsed) : gasUsed;
      cumulative += gasUsed;
      const maxPriorityFeePerGas = type >= 2 ? r.int(3 * GWEI) : 0;
      const maxFeePerGas = type >= 2 ? baseFee + r.int(40 * GWEI) : 0;
      // What the sender pays: the fixed price for legacy/2930, capped tip over base fee for 1559+.
      const gasPrice =
        type >= 2
          ? baseFee + Math.min(maxPriorityFeePerGas, maxFeePerGas - baseFee)
          : baseFee + r.int(3 * GWEI);
      const blobCount = type === 3 ? 1 + r.int(6) : 0;
      blobs += blobCount;
      const yParity = r.int(2);
      const txHash = this.txHash(n, i);
      txHashes.push(txHash);

      if (i > 0) w.byte(0x2c);
      const start = w.pos;
      txOffsets.push(start);
      w.byte(0x7b); // {
      if (type >= 1) {
        w.ascii('"accessList":');
        writeAccessList(w, r, p, type === 1 || r.chance(0.15) ? 1 + r.int(3) : 0);
        w.byte(0x2c);
      }
      if (type === 3) {
        w.ascii('"blobVersionedHashes":[');
        for (let b = 0; b < blobCount; b++) {
          if (b > 0) w.byte(0x2c);
          w.ascii('"0x01').randomHex(r, 31).byte(0x22);
        }
        w.ascii("],");
      }
      w.ascii(blockFields).ascii(chainIdField).ascii(from).ascii('","gas":"').quantity(gas);
      w.ascii('","gasPrice":"').quantity(gasPrice).ascii('","hash":"').ascii(txHash);
      w.ascii('","input":"0x');
      const inputStart = w.pos;
      if (creation) writeCreationCode(w, r);
      else if (!plain) writeCallData(w, r, p);
      const inputBytes = (w.pos - inputStart) >> 1;
      w.byte(0x22);
      if (type === 3)
        w.ascii(',"maxFeePerBlobGas":"')
          .quantity(blobGasPrice + r.int(10 * GWEI))
          .byte(0x22);
      if (type >= 2) {
        w.ascii(',"maxFeePerGas":"').quantity(maxFeePerGas);
        w.ascii('","maxPriorityFeePerGas":"').quantity(maxPriorityFeePerGas).byte(0x22);
      }
      w.ascii(',"nonce":"').quantity(r.int(200_000)).ascii('","r":"0x');
      writeRandomQuantity32(w, r);
      w.ascii('","s":"0x');
      writeRandomQuantity32(w, r);
      w.ascii('","to":');
      if (to === null) w.ascii("null");
      else w.byte(0x22).ascii(to).byte(0x22);
      w.ascii(',"transactionIndex":"').quantity(i).ascii('","type":"').quantity(type);
      // Legacy transactions carry the EIP-155 v (chainId * 2 + 35 + parity); typed ones the parity.
      w.ascii('","v":"').quantity(type === 0 ? this.chainId * 2 + 35 + yParity : yParity);
      w.ascii('","value":"');
      writeValue(w, r, plain);
      w.byte(0x22);
      if (type !== 0) w.ascii(',"yParity":"').quantity(yParity).byte(0x22);
      w.byte(0x7d); // }
      size += 110 + inputBytes + blobCount * 33;
      txs.push({
        type,
        from,
        to,
        contractAddress: creation ? r.hex0x(20) : null,
        gasUsed,
        cumulativeGasUsed: cumulative,
        gasPrice,
        blobs: blobCount,
        success,
        calls: inputBytes > 0,
        logStart: 0,
        logCount: 0,
      });
    }
    txOffsets.push(w.pos + 1);

    // Logs go to successful transactions, preferring contract calls, in tx order so that
    // block-global log indices increase with the transaction index.
    const emitters = txs.filter((t) => t.success && t.calls);
    const candidates = emitters.length > 0 ? emitters : txs.filter((t) => t.success);
    if (candidates.length > 0) {
      for (let k = 0; k < logTarget; k++) candidates[r.int(candidates.length)]!.logCount++;
    }
    const lw = this.lw.reset();
    const logs: LogModel[] = [];
    const logOffsets: number[] = [];
    const blockBloom = new Uint8Array(256);
    const txBlooms: Array<Uint8Array | null> = [];
    for (let i = 0; i < txs.length; i++) {
      const tx = txs[i]!;
      tx.logStart = logs.length;
      if (tx.logCount === 0) {
        txBlooms.push(null);
        continue;
      }
      const bloom = new Uint8Array(256);
      const emitter = tx.contractAddress ?? tx.to!;
      for (let k = 0; k < tx.logCount; k++) {
        const log = drawLog(r, p, emitter);
        bloomAdd(bloom, log.address);
        for (const t of log.topics) bloomAdd(bloom, t);
        if (logs.length > 0) lw.byte(0x2c);
        logOffsets.push(lw.pos);
        lw.ascii('{"address":"').ascii(log.address).byte(0x22).byte(0x2c).ascii(blockFields);
        lw.ascii(',"data":"0x');
        writeLogData(lw, r, log.data);
        lw.ascii('","logIndex":"').quantity(logs.length).ascii('","removed":false,"topics":[');
        for (let t = 0; t < log.topics.length; t++) {
          if (t > 0) lw.byte(0x2c);
          lw.byte(0x22).ascii(log.topics[t]!).byte(0x22);
        }
        lw.ascii('],"transactionHash":"').ascii(txHashes[i]!);
        lw.ascii('","transactionIndex":"').quantity(i).ascii('"}');
        logs.push({ address: log.address, topics: log.topics });
      }
      for (let b = 0; b < 256; b++) blockBloom[b]! |= bloom[b]!;
      txBlooms.push(bloom);
    }
    logOffsets.push(lw.pos + 1);

    // Receipts, embedding each transaction's logs.
    const rw = this.rw.reset();
    const receiptOffsets: number[] = [];
    rw.byte(0x5b);
    for (let i = 0; i < txs.length; i++) {
      const t = txs[i]!;
      if (i > 0) rw.byte(0x2c);
      receiptOffsets.push(rw.pos);
      rw.byte(0x7b);
      if (t.type === 3) {
        rw.ascii('"blobGasPrice":"').quantity(blobGasPrice);
        rw.ascii('","blobGasUsed":"')
          .quantity(t.blobs * BLOB_GAS_PER_BLOB)
          .ascii('",');
      }
      rw.ascii(receiptBlockFields);
      rw.ascii(',"contractAddress":');
      if (t.contractAddress === null) rw.ascii("null");
      else rw.byte(0x22).ascii(t.contractAddress).byte(0x22);
      rw.ascii(',"cumulativeGasUsed":"').quantity(t.cumulativeGasUsed);
      rw.ascii('","effectiveGasPrice":"').quantity(t.gasPrice).ascii('","from":"').ascii(t.from);
      rw.ascii('","gasUsed":"').quantity(t.gasUsed).ascii('","logs":[');
      if (t.logCount > 0) {
        rw.bytesFrom(lw.buf, logOffsets[t.logStart]!, logOffsets[t.logStart + t.logCount]! - 1);
      }
      rw.ascii('],"logsBloom":"');
      writeBloom(rw, txBlooms[i]!);
      rw.ascii('","status":"')
        .ascii(t.success ? "0x1" : "0x0")
        .ascii('","to":');
      if (t.to === null) rw.ascii("null");
      else rw.byte(0x22).ascii(t.to).byte(0x22);
      rw.ascii(',"transactionHash":"')
        .ascii(txHashes[i]!)
        .ascii('","transactionIndex":"')
        .quantity(i);
      rw.ascii('","type":"').quantity(t.type).ascii('"}');
    }
    receiptOffsets.push(rw.pos + 1);
    rw.byte(0x5d);

    const withdrawals: string[] = [];
    for (let k = 0; k < WITHDRAWALS_PER_BLOCK; k++) {
      withdrawals.push(
        `{"address":"${p.eoas[r.int(p.eoas.length)]}","amount":"${q(10_000_000 + r.int(10_000_000))}",` +
          `"index":"${q(n * WITHDRAWALS_PER_BLOCK + k)}","validatorIndex":"${q(r.int(1_500_000))}"}`,
      );
    }
    const root = () => `0x${r.hex(32)}`;
    const header =
      `"baseFeePerGas":"${q(baseFee)}","blobGasUsed":"${q(blobs * BLOB_GAS_PER_BLOB)}",` +
      `"difficulty":"0x0","excessBlobGas":"${q(r.int(20) * BLOB_GAS_PER_BLOB)}",` +
      `"extraData":"${p.extraData[r.int(p.extraData.length)]}","gasLimit":"${q(gasLimit)}",` +
      `"gasUsed":"${q(cumulative)}","hash":"${hash}","logsBloom":"${bloomText(blockBloom)}",` +
      `"miner":"${p.builders[r.int(p.builders.length)]}","mixHash":"${root()}",` +
      `"nonce":"0x0000000000000000","number":"${numHex}","parentBeaconBlockRoot":"${root()}",` +
      `"parentHash":"${this.parentHash(n)}",` +
      `"receiptsRoot":"${txCount === 0 ? EMPTY_TRIE_ROOT : root()}",` +
      `"sha3Uncles":"${EMPTY_UNCLES_HASH}","size":"${q(Math.round(size))}",` +
      `"stateRoot":"${root()}","timestamp":"${tsHex}",` +
      `"transactionsRoot":"${txCount === 0 ? EMPTY_TRIE_ROOT : root()}","uncles":[],` +
      `"withdrawals":[${withdrawals.join(",")}],"withdrawalsRoot":"${root()}"`;

    const prefix = Buffer.from(`{${header},"transactions":[`, "latin1");
    const full = Buffer.concat([prefix, w.buf.subarray(0, w.pos), CLOSE_BRACKET_BRACE]);
    return {
      number: n,
      header,
      txHashes,
      full,
      fullOffsets: txOffsets.map((o) => o + prefix.length),
      receipts: rw.copy(),
      receiptOffsets,
      logs,
      logBytes: lw.copy(),
      logOffsets,
    };
  }
}

function element(bytes: Buffer, offsets: number[], i: number): Buffer {
  return bytes.subarray(offsets[i]!, offsets[i + 1]! - 1);
}

function checkInt(v: number, name: string, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer within ${min}..${max}, got ${v}`);
  }
  return v;
}

// ---- hashes that carry their own position ------------------------------------------------------

function hashMask(seed: number, w: readonly number[]): [number, number] {
  let h = seed;
  for (const x of w) h = fmix32((h ^ x) + 0x9e3779b9);
  return [h, fmix32(h ^ 0x5bd1e995)];
}

/**
 * 24 pseudo-random bytes followed by (kind, index, block number) masked with a function of
 * those bytes: looks random, and `untag` recovers the position without any index.
 */
function taggedHash(seed: number, kind: number, n: number, i: number): string {
  const r = new Rng(seed, n, kind === KIND_BLOCK ? S_BLOCK_HASH : S_TX_HASH, i);
  const w = [r.next(), r.next(), r.next(), r.next(), r.next(), r.next()];
  const [m0, m1] = hashMask(seed, w);
  const t0 = (((kind << 28) | i) ^ m0) >>> 0;
  const t1 = ((n >>> 0) ^ m1) >>> 0;
  return flat(`0x${w.map(hexWord).join("")}${hexWord(t0)}${hexWord(t1)}`);
}

function untag(seed: number, hash: string): { kind: number; i: number; n: number } | undefined {
  if (!/^0x[0-9a-fA-F]{64}$/.test(hash)) return undefined;
  const w: number[] = [];
  for (let k = 0; k < 8; k++) w.push(Number.parseInt(hash.slice(2 + 8 * k, 10 + 8 * k), 16));
  const [m0, m1] = hashMask(seed, w.slice(0, 6));
  const t0 = (w[6]! ^ m0) >>> 0;
  return { kind: t0 >>> 28, i: t0 & 0x0fffffff, n: (w[7]! ^ m1) >>> 0 };
}

// ---- content -------------------------------------------------------------------------------------

function makePools(seed: number): Pools {
  const r = new Rng(seed, 0, S_POOLS);
  const addrs = (k: number) => Array.from({ length: k }, () => r.hex0x(20));
  const eoas = addrs(4096);
  return {
    eoas,
    paddedEoas: eoas.map((a) => flat(`0x000000000000000000000000${a.slice(2)}`)),
    contracts: addrs(512),
    tokens: addrs(256),
    builders: addrs(12),
    events: Array.from({ length: 48 }, () => r.hex0x(32)),
    extraData: Array.from({ length: 12 }, () => r.hex0x(r.int(33))),
  };
}

/** 64 random hex digits without a leading zero: a 32-byte quantity in minimal form (r, s). */
function writeRandomQuantity32(w: ByteWriter, r: Rng): void {
  const start = w.pos;
  w.randomHex(r, 32);
  if (w.buf[start] === 0x30) w.buf[start] = 0x31;
}

function writeValue(w: ByteWriter, r: Rng, plain: boolean): void {
  const roll = r.float();
  if (!plain && roll < 0.45) {
    w.ascii("0x0");
  } else if (roll > 0.9) {
    // Above 2^64: 9..12 significant bytes (cryo's u64 columns wrap, binary ones must not).
    w.quantity(1 + r.int(255)).randomHex(r, 8 + r.int(4));
  } else {
    // Up to 2^64 - 1: a nonzero leading byte keeps the quantity minimal.
    w.quantity(1 + r.int(255));
    const rest = r.int(8);
    if (rest > 0) w.randomHex(r, rest);
  }
}

function writeCallData(w: ByteWriter, r: Rng, p: Pools): void {
  w.randomHex(r, 4);
  const words = r.chance(0.05) ? 16 + r.int(48) : r.int(9);
  for (let k = 0; k < words; k++) {
    const roll = r.float();
    if (roll < 0.4) w.zeros(24).ascii(p.eoas[r.int(p.eoas.length)]!.slice(2));
    else if (roll < 0.75) w.zeros(48).randomHex(r, 4);
    else w.randomHex(r, 32);
  }
  // A few payloads that are not whole words, as real contracts accept them.
  if (r.chance(0.03)) w.randomHex(r, 1 + r.int(31));
}

function writeCreationCode(w: ByteWriter, r: Rng): void {
  w.ascii(CREATION_PREFIX).randomHex(r, 100 + r.int(1400));
}

function writeAccessList(w: ByteWriter, r: Rng, p: Pools, entries: number): void {
  w.byte(0x5b);
  for (let e = 0; e < entries; e++) {
    if (e > 0) w.byte(0x2c);
    w.ascii('{"address":"')
      .ascii(p.contracts[r.int(p.contracts.length)]!)
      .ascii('","storageKeys":[');
    const keys = r.int(4);
    for (let j = 0; j < keys; j++) {
      if (j > 0) w.byte(0x2c);
      w.ascii('"0x').randomHex(r, 32).byte(0x22);
    }
    w.ascii("]}");
  }
  w.byte(0x5d);
}

type LogData = "amount" | "none" | "word" | { bytes: number };

function drawLog(
  r: Rng,
  p: Pools,
  emitter: string,
): { address: string; topics: string[]; data: LogData } {
  const roll = r.float();
  const holder = p.paddedEoas;
  if (roll < 0.62) {
    // ERC-20 Transfer: 3 topics and a 32-byte amount (what cryo's erc20_transfers keeps).
    return {
      address: p.tokens[r.int(p.tokens.length)]!,
      topics: [TRANSFER_TOPIC, holder[r.int(holder.length)]!, holder[r.int(holder.length)]!],
      data: "amount",
    };
  }
  if (roll < 0.7) {
    // ERC-721 Transfer: same topic0, the token id as a 4th topic, no data.
    return {
      address: p.tokens[r.int(p.tokens.length)]!,
      topics: [
        TRANSFER_TOPIC,
        holder[r.int(holder.length)]!,
        holder[r.int(holder.length)]!,
        flat(`0x${"0".repeat(56)}${r.hex(4)}`),
      ],
      data: "none",
    };
  }
  if (roll < 0.77) {
    return {
      address: p.tokens[r.int(p.tokens.length)]!,
      topics: [APPROVAL_TOPIC, holder[r.int(holder.length)]!, holder[r.int(holder.length)]!],
      data: "word",
    };
  }
  const nTopics = r.int(5);
  const topics: string[] = [];
  if (nTopics > 0) topics.push(p.events[r.int(p.events.length)]!);
  for (let t = 1; t < nTopics; t++) {
    topics.push(r.chance(0.5) ? holder[r.int(holder.length)]! : r.hex0x(32));
  }
  const bytes = r.chance(0.1) ? r.int(300) : 32 * r.int(9);
  const address = r.chance(0.5) ? emitter : p.contracts[r.int(p.contracts.length)]!;
  return { address, topics, data: { bytes } };
}

function writeLogData(w: ByteWriter, r: Rng, data: LogData): void {
  if (data === "none") return;
  if (data === "amount") w.zeros(40).randomHex(r, 12);
  else if (data === "word") w.randomHex(r, 32);
  else w.randomHex(r, data.bytes);
}

/** Hex digit value of an ASCII code (local: imported functions cost a getter call per use). */
function nibble(code: number): number {
  return code <= 0x39 ? code - 0x30 : (code | 0x20) - 0x57;
}

/** Set three bloom bits taken from the value's last six bytes (real nodes use keccak bytes). */
function bloomAdd(bloom: Uint8Array, hex: string): void {
  const end = hex.length;
  for (let k = 0; k < 3; k++) {
    const at = end - 4 * (k + 1);
    const bit =
      ((nibble(hex.charCodeAt(at + 1)) << 8) |
        (nibble(hex.charCodeAt(at + 2)) << 4) |
        nibble(hex.charCodeAt(at + 3))) &
      2047;
    bloom[255 - (bit >>> 3)]! |= 1 << (bit & 7);
  }
}

function writeBloom(w: ByteWriter, bloom: Uint8Array | null): void {
  if (bloom === null) {
    w.ascii(ZERO_BLOOM);
    return;
  }
  w.ascii("0x").hexOf(bloom);
}

function bloomText(bloom: Uint8Array): string {
  let s = "0x";
  for (let b = 0; b < 256; b++) s += HEX[bloom[b]!]!;
  return s;
}
