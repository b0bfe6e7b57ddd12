/**
 * A deterministic synthetic EVM chain. Every block is a pure function of (seed, options, block
 * number): generated lazily from a cheap PRNG, rendered to exactly the JSON a geth/erigon node
 * returns (keys in Erigon's alphabetical order, minimal lowercase hex quantities, 32-byte hashes,
 * 20-byte addresses), and kept in a small LRU because one mainnet-sized block is ~0.5 MB of JSON
 * (block with full transactions plus receipts).
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
import { flat, fmix32, HEX, hashString, Rng, wordsHex0x } from "./prng.ts";
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
  /** Blocks kept in memory (up to ~0.7 MB each once fully rendered at default sizes). Default 32. */
  cacheBlocks?: number;
}

export const TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
export const APPROVAL_TOPIC = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925";
export const EMPTY_UNCLES_HASH =
  "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347";
export const EMPTY_TRIE_ROOT = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421";
export const ZERO_HASH = `0x${"0".repeat(64)}`;
const ZERO_BLOOM_BYTES = Buffer.from(`0x${"0".repeat(512)}`, "latin1");
const OPEN_BRACKET = Buffer.from("[");
const CLOSE_BRACKET = Buffer.from("]");
const COMMA = Buffer.from(",");
const GWEI = 1_000_000_000;
const BLOB_GAS_PER_BLOB = 131_072;
const WITHDRAWALS_PER_BLOCK = 16;
const MAX_LENGTH = 2 ** 32; // hashes embed the block number in 32 bits
const MAX_TXS = 2 ** 20;

// Independent PRNG streams, so e.g. a block's tx count is known without generating the block.
// Each part of a block draws from its own stream, so the cheap parts (the header needs only the
// transactions' scalars and the logs' addresses/topics) can be produced without rendering the
// expensive payloads, and each payload can be rendered without the others.
const S_PLAN = 1; // block scalars, transaction scalars, which tx emits how many logs
const S_COUNTS = 4;
const S_POOLS = 5;
const S_LOGS = 6; // log addresses, topics and data shapes
const S_HEADER = 7; // roots, miner, withdrawals
const S_TX_PAYLOAD = 8; // calldata, signatures, values, access lists, blob hashes
const S_LOG_PAYLOAD = 9; // log data
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
  /** 32-byte amount after 20 zero bytes (-1), nothing (-2), or that many random bytes. */
  data: number;
}

interface TxPlan {
  hash: string;
  /** The hash pre-encoded (written into the block, the receipts and the logs), on first use. */
  hashBytes?: Buffer;
  type: number;
  from: string;
  to: string | null;
  contractAddress: string | null;
  success: boolean;
  gas: number;
  gasUsed: number;
  cumulativeGasUsed: number;
  gasPrice: number; // what the sender pays per gas
  maxFeePerGas: number;
  maxPriorityFeePerGas: number;
  maxFeePerBlobGas: number;
  blobs: number;
  nonce: number;
  yParity: number;
  /** 0: zero, 1: below 2^64, 2: above 2^64. */
  valueKind: number;
  /** 0: none, 1: contract call, 2: contract creation. */
  inputKind: number;
  inputWords: number;
  inputTail: number; // bytes after the last whole word
  accessListEntries: number;
  logStart: number;
  logCount: number;
  bloom: Uint8Array | null;
}

/** Element i of a rendered list spans [offsets[i], offsets[i + 1] - 1). */
interface Rendered {
  bytes: Buffer;
  offsets: number[];
}

/**
 * One block: its plan (every scalar, the header, the logs' addresses and topics) and, rendered
 * lazily and independently, the full block, the logs and the receipts. Rendered views are bytes,
 * not strings: megabytes of JSON built by string concatenation are deep ropes and large-object
 * copies, and their garbage collection cost more than generating the data.
 */
interface BlockModel {
  number: number;
  hash: string;
  header: string; // every block field except transactions, without braces
  txs: TxPlan[];
  logs: LogModel[];
  blobGasPrice: number;
  hashes?: Buffer;
  full?: Rendered;
  logBytes?: Rendered;
  receipts?: Rendered;
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
const DATA_AMOUNT = -1;
const DATA_NONE = -2;

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
  // Scratch writer reused across renders; each rendering is copied out once when done.
  private readonly w = new ByteWriter(1 << 20);

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
    if (fullTx) return this.fullBlock(m).bytes;
    m.hashes ??= Buffer.from(
      `{${m.header},"transactions":[${m.txs.map((t) => `"${t.hash}"`).join(",")}]}`,
      "latin1",
    );
    return m.hashes;
  }

  /** eth_getBlockReceipts JSON bytes, or null beyond the head. */
  receiptsBytes(n: number): Buffer | null {
    return this.has(n) ? this.blockReceipts(this.model(n)).bytes : null;
  }

  /** eth_getTransactionByHash JSON bytes, or null for a hash that is not on this chain. */
  transactionBytes(hash: string): Buffer | null {
    const at = this.locateTx(hash);
    return at === undefined ? null : element(this.fullBlock(this.model(at.blockNumber)), at.index);
  }

  /** eth_getTransactionReceipt JSON bytes, or null for a hash that is not on this chain. */
  transactionReceiptBytes(hash: string): Buffer | null {
    const at = this.locateTx(hash);
    return at === undefined
      ? null
      : element(this.blockReceipts(this.model(at.blockNumber)), at.index);
  }

  /** eth_getLogs over [from, to] (clamped to the chain) as JSON bytes. */
  logsBytes(from: number, to: number, criteria: LogCriteria): Buffer {
    const parts: Buffer[] = [OPEN_BRACKET];
    for (let n = Math.max(0, from); n <= Math.min(to, this.head); n++) {
      const m = this.model(n);
      let rendered: Rendered | undefined;
      for (let k = 0; k < m.logs.length; k++) {
        if (!logMatches(m.logs[k]!, criteria)) continue;
        rendered ??= this.blockLogs(m);
        if (parts.length > 1) parts.push(COMMA);
        parts.push(element(rendered, k));
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

  // ---- planning --------------------------------------------------------------------------------

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
    const m = this.plan(n);
    this.cache.set(n, m);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return m;
  }

  /** Everything but the payloads: enough for the header and for filtering logs. */
  private plan(n: number): BlockModel {
    const p = this.pools;
    const r = new Rng(this.seed, n, S_PLAN);
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

    const txs: TxPlan[] = [];
    let cumulative = 0;
    let blobs = 0;
    let size = 620 + WITHDRAWALS_PER_BLOCK * 28;
    for (let i = 0; i < txCount; i++) {
      const roll = r.float();
      const type = roll < 0.15 ? 0 : roll < 0.18 ? 1 : roll < 0.95 ? 2 : 3;
      const creation = type !== 3 && r.chance(0.02);
      const success = !r.chance(0.04);
      const plain = !creation && type !== 3 && r.chance(0.25);
      const gasUsed = plain ? 21_000 : 21_000 + r.int(2 * (meanGas - 21_000) + 1);
      cumulative += gasUsed;
      const maxPriorityFeePerGas = type >= 2 ? r.int(3 * GWEI) : 0;
      const maxFeePerGas = type >= 2 ? baseFee + r.int(40 * GWEI) : 0;
      const blobCount = type === 3 ? 1 + r.int(6) : 0;
      blobs += blobCount;
      const inputWords = creation || plain ? 0 : r.chance(0.05) ? 16 + r.int(48) : r.int(9);
      const inputTail = creation ? 100 + r.int(1400) : !plain && r.chance(0.03) ? 1 + r.int(31) : 0;
      const inputBytes = creation
        ? CREATION_PREFIX.length / 2 + inputTail
        : plain
          ? 0
          : 4 + 32 * inputWords + inputTail;
      size += 110 + inputBytes + blobCount * 33;
      const valueRoll = r.float();
      const txHash = this.txHash(n, i);
      txs.push({
        hash: txHash,
        type,
        from: p.eoas[r.int(p.eoas.length)]!,
        to: creation
          ? null
          : plain
            ? p.eoas[r.int(p.eoas.length)]!
            : p.contracts[r.int(p.contracts.length)]!,
        contractAddress: creation ? r.hex0x(20) : null,
        success,
        gas: success && r.chance(0.9) ? gasUsed + r.int(gasUsed) : gasUsed,
        gasUsed,
        cumulativeGasUsed: cumulative,
        // Legacy/2930 pay their fixed price; 1559+ the base fee plus the tip, capped by max fee.
        gasPrice:
          type >= 2
            ? baseFee + Math.min(maxPriorityFeePerGas, maxFeePerGas - baseFee)
            : baseFee + r.int(3 * GWEI),
        maxFeePerGas,
        maxPriorityFeePerGas,
        maxFeePerBlobGas: type === 3 ? blobGasPrice + r.int(10 * GWEI) : 0,
        blobs: blobCount,
        nonce: r.int(200_000),
        yParity: r.int(2),
        valueKind: !plain && valueRoll < 0.45 ? 0 : valueRoll > 0.9 ? 2 : 1,
        inputKind: creation ? 2 : plain ? 0 : 1,
        inputWords,
        inputTail,
        accessListEntries: type === 1 || (type >= 2 && r.chance(0.15)) ? 1 + r.int(3) : 0,
        logStart: 0,
        logCount: 0,
        bloom: null,
      });
    }

    // Logs go to successful transactions, preferring contract calls, in tx order so that
    // block-global log indices increase with the transaction index.
    const emitters = txs.filter((t) => t.success && t.inputKind !== 0);
    const candidates = emitters.length > 0 ? emitters : txs.filter((t) => t.success);
    if (candidates.length > 0) {
      for (let k = 0; k < logTarget; k++) candidates[r.int(candidates.length)]!.logCount++;
    }
    const rl = new Rng(this.seed, n, S_LOGS);
    const logs: LogModel[] = [];
    const blockBloom = new Uint8Array(256);
    for (const tx of txs) {
      tx.logStart = logs.length;
      if (tx.logCount === 0) continue;
      const bloom = new Uint8Array(256);
      const emitter = tx.contractAddress ?? tx.to!;
      for (let k = 0; k < tx.logCount; k++) {
        const log = drawLog(rl, p, emitter);
        bloomAdd(bloom, blockBloom, log.address);
        for (const t of log.topics) bloomAdd(bloom, blockBloom, t);
        logs.push(log);
      }
      tx.bloom = bloom;
    }

    const rh = new Rng(this.seed, n, S_HEADER);
    const withdrawals: string[] = [];
    for (let k = 0; k < WITHDRAWALS_PER_BLOCK; k++) {
      withdrawals.push(
        `{"address":"${p.eoas[rh.int(p.eoas.length)]}","amount":"${q(10_000_000 + rh.int(10_000_000))}",` +
          `"index":"${q(n * WITHDRAWALS_PER_BLOCK + k)}","validatorIndex":"${q(rh.int(1_500_000))}"}`,
      );
    }
    const root = () => rh.hex0x(32);
    const header =
      `"baseFeePerGas":"${q(baseFee)}","blobGasUsed":"${q(blobs * BLOB_GAS_PER_BLOB)}",` +
      `"difficulty":"0x0","excessBlobGas":"${q(rh.int(20) * BLOB_GAS_PER_BLOB)}",` +
      `"extraData":"${p.extraData[rh.int(p.extraData.length)]}","gasLimit":"${q(gasLimit)}",` +
      `"gasUsed":"${q(cumulative)}","hash":"${hash}","logsBloom":"${bloomText(blockBloom)}",` +
      `"miner":"${p.builders[rh.int(p.builders.length)]}","mixHash":"${root()}",` +
      `"nonce":"0x0000000000000000","number":"${q(n)}","parentBeaconBlockRoot":"${root()}",` +
      `"parentHash":"${this.parentHash(n)}",` +
      `"receiptsRoot":"${txCount === 0 ? EMPTY_TRIE_ROOT : root()}",` +
      `"sha3Uncles":"${EMPTY_UNCLES_HASH}","size":"${q(Math.round(size))}",` +
      `"stateRoot":"${root()}","timestamp":"${q(this.timestamp(n))}",` +
      `"transactionsRoot":"${txCount === 0 ? EMPTY_TRIE_ROOT : root()}","uncles":[],` +
      `"withdrawals":[${withdrawals.join(",")}],"withdrawalsRoot":"${root()}"`;
    return { number: n, hash, header, txs, logs, blobGasPrice };
  }

  private static hashBytes(t: TxPlan): Buffer {
    t.hashBytes ??= Buffer.from(t.hash, "latin1");
    return t.hashBytes;
  }

  // ---- rendering -------------------------------------------------------------------------------

  /** `"blockHash":…,"blockNumber":…,"blockTimestamp":…`, pre-encoded: written per tx and log. */
  private blockFields(m: BlockModel): Buffer {
    return Buffer.from(
      `"blockHash":"${m.hash}","blockNumber":"${q(m.number)}","blockTimestamp":"${q(this.timestamp(m.number))}"`,
      "latin1",
    );
  }

  private fullBlock(m: BlockModel): Rendered {
    if (m.full !== undefined) return m.full;
    const p = this.pools;
    const r = new Rng(this.seed, m.number, S_TX_PAYLOAD);
    const blockFields = this.blockFields(m);
    const chainIdField = Buffer.from(`,"chainId":"${q(this.chainId)}","from":"`, "latin1");
    const w = this.w.reset();
    w.byte(0x7b).ascii(m.header).ascii(',"transactions":[');
    const offsets: number[] = [];
    for (let i = 0; i < m.txs.length; i++) {
      const t = m.txs[i]!;
      if (i > 0) w.byte(0x2c);
      offsets.push(w.pos);
      w.byte(0x7b); // {
      if (t.type >= 1) {
        w.ascii('"accessList":');
        writeAccessList(w, r, p, t.accessListEntries);
        w.byte(0x2c);
      }
      if (t.type === 3) {
        w.ascii('"blobVersionedHashes":[');
        for (let b = 0; b < t.blobs; b++) {
          if (b > 0) w.byte(0x2c);
          w.ascii('"0x01').randomHex(r, 31).byte(0x22);
        }
        w.ascii("],");
      }
      w.raw(blockFields).raw(chainIdField).ascii(t.from).ascii('","gas":"').quantity(t.gas);
      w.ascii('","gasPrice":"')
        .quantity(t.gasPrice)
        .ascii('","hash":"')
        .raw(SyntheticChain.hashBytes(t));
      w.ascii('","input":"0x');
      if (t.inputKind === 2) w.ascii(CREATION_PREFIX).randomHex(r, t.inputTail);
      else if (t.inputKind === 1) writeCallData(w, r, p, t.inputWords, t.inputTail);
      w.byte(0x22);
      if (t.type === 3) w.ascii(',"maxFeePerBlobGas":"').quantity(t.maxFeePerBlobGas).byte(0x22);
      if (t.type >= 2) {
        w.ascii(',"maxFeePerGas":"').quantity(t.maxFeePerGas);
        w.ascii('","maxPriorityFeePerGas":"').quantity(t.maxPriorityFeePerGas).byte(0x22);
      }
      w.ascii(',"nonce":"').quantity(t.nonce).ascii('","r":"0x');
      writeRandomQuantity32(w, r);
      w.ascii('","s":"0x');
      writeRandomQuantity32(w, r);
      w.ascii('","to":');
      if (t.to === null) w.ascii("null");
      else w.byte(0x22).ascii(t.to).byte(0x22);
      w.ascii(',"transactionIndex":"').quantity(i).ascii('","type":"').quantity(t.type);
      // Legacy transactions carry the EIP-155 v (chainId * 2 + 35 + parity); typed ones the parity.
      w.ascii('","v":"').quantity(t.type === 0 ? this.chainId * 2 + 35 + t.yParity : t.yParity);
      w.ascii('","value":"');
      writeValue(w, r, t.valueKind);
      w.byte(0x22);
      if (t.type !== 0) w.ascii(',"yParity":"').quantity(t.yParity).byte(0x22);
      w.byte(0x7d); // }
    }
    offsets.push(w.pos + 1);
    w.ascii("]}");
    m.full = { bytes: w.copy(), offsets };
    return m.full;
  }

  private blockLogs(m: BlockModel): Rendered {
    if (m.logBytes !== undefined) return m.logBytes;
    const r = new Rng(this.seed, m.number, S_LOG_PAYLOAD);
    const blockFields = this.blockFields(m);
    const w = this.w.reset();
    const offsets: number[] = [];
    for (let i = 0; i < m.txs.length; i++) {
      const tx = m.txs[i]!;
      for (let k = tx.logStart; k < tx.logStart + tx.logCount; k++) {
        const log = m.logs[k]!;
        if (k > 0) w.byte(0x2c);
        offsets.push(w.pos);
        w.ascii('{"address":"').ascii(log.address).ascii('",').raw(blockFields);
        w.ascii(',"data":"0x');
        if (log.data === DATA_AMOUNT) w.zeros(40).randomHex(r, 12);
        else if (log.data !== DATA_NONE) w.randomHex(r, log.data);
        w.ascii('","logIndex":"').quantity(k).ascii('","removed":false,"topics":[');
        for (let t = 0; t < log.topics.length; t++) {
          if (t > 0) w.byte(0x2c);
          w.byte(0x22).ascii(log.topics[t]!).byte(0x22);
        }
        w.ascii('],"transactionHash":"').raw(SyntheticChain.hashBytes(tx));
        w.ascii('","transactionIndex":"').quantity(i).ascii('"}');
      }
    }
    offsets.push(w.pos + 1);
    m.logBytes = { bytes: w.copy(), offsets };
    return m.logBytes;
  }

  private blockReceipts(m: BlockModel): Rendered {
    if (m.receipts !== undefined) return m.receipts;
    const logs = this.blockLogs(m);
    const blockFields = Buffer.from(
      `"blockHash":"${m.hash}","blockNumber":"${q(m.number)}"`,
      "latin1",
    );
    const w = this.w.reset();
    const offsets: number[] = [];
    w.byte(0x5b);
    for (let i = 0; i < m.txs.length; i++) {
      const t = m.txs[i]!;
      if (i > 0) w.byte(0x2c);
      offsets.push(w.pos);
      w.byte(0x7b);
      if (t.type === 3) {
        w.ascii('"blobGasPrice":"').quantity(m.blobGasPrice);
        w.ascii('","blobGasUsed":"')
          .quantity(t.blobs * BLOB_GAS_PER_BLOB)
          .ascii('",');
      }
      w.raw(blockFields).ascii(',"contractAddress":');
      if (t.contractAddress === null) w.ascii("null");
      else w.byte(0x22).ascii(t.contractAddress).byte(0x22);
      w.ascii(',"cumulativeGasUsed":"').quantity(t.cumulativeGasUsed);
      w.ascii('","effectiveGasPrice":"').quantity(t.gasPrice).ascii('","from":"').ascii(t.from);
      w.ascii('","gasUsed":"').quantity(t.gasUsed).ascii('","logs":[');
      if (t.logCount > 0) {
        w.bytesFrom(
          logs.bytes,
          logs.offsets[t.logStart]!,
          logs.offsets[t.logStart + t.logCount]! - 1,
        );
      }
      w.ascii('],"logsBloom":"');
      if (t.bloom === null) w.raw(ZERO_BLOOM_BYTES);
      else w.ascii("0x").sparseHexOf(t.bloom);
      w.ascii('","status":"')
        .ascii(t.success ? "0x1" : "0x0")
        .ascii('","to":');
      if (t.to === null) w.ascii("null");
      else w.byte(0x22).ascii(t.to).byte(0x22);
      w.ascii(',"transactionHash":"')
        .raw(SyntheticChain.hashBytes(t))
        .ascii('","transactionIndex":"')
        .quantity(i);
      w.ascii('","type":"').quantity(t.type).ascii('"}');
    }
    offsets.push(w.pos + 1);
    w.byte(0x5d);
    m.receipts = { bytes: w.copy(), offsets };
    return m.receipts;
  }
}

function element(r: Rendered, i: number): Buffer {
  return r.bytes.subarray(r.offsets[i]!, r.offsets[i + 1]! - 1);
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
  // Six words straight from the mixer (no generator warm-up): this runs once per transaction.
  const base = fmix32(
    seed ^ fmix32((n >>> 0) + kind * 0x9e3779b9) ^ fmix32(Math.floor(n / 2 ** 32) + 0x632be5ab),
  );
  const w: number[] = [];
  for (let k = 0; k < 6; k++) w.push(fmix32(base ^ fmix32(i * 6 + k + 0x85ebca6b)));
  const [m0, m1] = hashMask(seed, w);
  w.push((((kind << 28) | i) ^ m0) >>> 0, ((n >>> 0) ^ m1) >>> 0);
  return wordsHex0x(w);
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

function writeValue(w: ByteWriter, r: Rng, kind: number): void {
  if (kind === 0) w.ascii("0x0");
  // Above 2^64: 9..12 significant bytes (cryo's u64 columns wrap, binary ones must not).
  else if (kind === 2) w.quantity(1 + r.int(255)).randomHex(r, 8 + r.int(4));
  else {
    // Below 2^64; a nonzero leading byte keeps the quantity minimal.
    w.quantity(1 + r.int(255));
    const rest = r.int(8);
    if (rest > 0) w.randomHex(r, rest);
  }
}

function writeCallData(w: ByteWriter, r: Rng, p: Pools, words: number, tail: number): void {
  w.randomHex(r, 4);
  for (let k = 0; k < words; k++) {
    const roll = r.float();
    if (roll < 0.4) w.zeros(24).ascii(p.eoas[r.int(p.eoas.length)]!.slice(2));
    else if (roll < 0.75) w.zeros(48).randomHex(r, 4);
    else w.randomHex(r, 32);
  }
  // Some payloads are not whole words, as real contracts accept them.
  if (tail > 0) w.randomHex(r, tail);
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

function drawLog(r: Rng, p: Pools, emitter: string): LogModel {
  const roll = r.float();
  const holder = p.paddedEoas;
  const token = p.tokens[r.int(p.tokens.length)]!;
  if (roll < 0.62) {
    // ERC-20 Transfer: 3 topics and a 32-byte amount (what cryo's erc20_transfers keeps).
    return {
      address: token,
      topics: [TRANSFER_TOPIC, holder[r.int(holder.length)]!, holder[r.int(holder.length)]!],
      data: DATA_AMOUNT,
    };
  }
  if (roll < 0.7) {
    // ERC-721 Transfer: same topic0, the token id as a 4th topic, no data.
    return {
      address: token,
      topics: [
        TRANSFER_TOPIC,
        holder[r.int(holder.length)]!,
        holder[r.int(holder.length)]!,
        flat(`0x${"0".repeat(56)}${r.hex(4)}`),
      ],
      data: DATA_NONE,
    };
  }
  if (roll < 0.77) {
    return {
      address: token,
      topics: [APPROVAL_TOPIC, holder[r.int(holder.length)]!, holder[r.int(holder.length)]!],
      data: 32,
    };
  }
  const nTopics = r.int(5);
  const topics: string[] = [];
  if (nTopics > 0) topics.push(p.events[r.int(p.events.length)]!);
  for (let t = 1; t < nTopics; t++) {
    topics.push(r.chance(0.5) ? holder[r.int(holder.length)]! : r.hex0x(32));
  }
  const address = r.chance(0.5) ? emitter : p.contracts[r.int(p.contracts.length)]!;
  return { address, topics, data: r.chance(0.1) ? r.int(300) : 32 * r.int(9) };
}

/** Hex digit value of an ASCII code. */
function nibble(code: number): number {
  return code <= 0x39 ? code - 0x30 : (code | 0x20) - 0x57;
}

/**
 * Set three bloom bits, taken from the value's last six bytes (real nodes use keccak bytes), in
 * the receipt's bloom and the block's.
 */
function bloomAdd(bloom: Uint8Array, blockBloom: Uint8Array, hex: string): void {
  const end = hex.length;
  for (let k = 0; k < 3; k++) {
    const at = end - 4 * (k + 1);
    const bit =
      ((nibble(hex.charCodeAt(at + 1)) << 8) |
        (nibble(hex.charCodeAt(at + 2)) << 4) |
        nibble(hex.charCodeAt(at + 3))) &
      2047;
    bloom[255 - (bit >>> 3)]! |= 1 << (bit & 7);
    blockBloom[255 - (bit >>> 3)]! |= 1 << (bit & 7);
  }
}

function bloomText(bloom: Uint8Array): string {
  let s = "0x";
  for (let b = 0; b < 256; b++) s += HEX[bloom[b]!]!;
  return s;
}
