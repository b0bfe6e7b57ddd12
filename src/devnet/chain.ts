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
import { fmix32, HEX, hashString, hexWord, Rng } from "./prng.ts";

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

interface TxModel {
  hash: string;
  type: 0 | 1 | 2 | 3;
  from: string;
  to: string | null;
  contractAddress: string | null;
  value: string;
  nonce: number;
  gas: number;
  gasUsed: number;
  cumulativeGasUsed: number;
  gasPrice: number; // effective price paid
  maxFeePerGas: number;
  maxPriorityFeePerGas: number;
  maxFeePerBlobGas: number;
  blobHashes: string[];
  accessList: string; // rendered JSON, "" when the type has none
  input: string;
  r: string;
  s: string;
  yParity: number;
  success: boolean;
  logStart: number;
  logCount: number;
  bloom: string;
}

/**
 * One generated block. Rendered views are kept as bytes, not strings: megabytes of JSON built
 * by concatenation are deep string ropes, and keeping a few dozen of them alive made garbage
 * collection cost more than generating the blocks.
 */
interface BlockModel {
  number: number;
  hash: string;
  header: string; // every block field except transactions, rendered, without braces
  txs: TxModel[];
  logs: LogModel[];
  /** All logs' JSON, comma-separated; log k spans [logOffsets[k], logOffsets[k + 1] - 1). */
  logBytes: Buffer;
  logOffsets: number[];
  blobGasPrice: number;
  // Rendered lazily: a blocks-only extraction never pays for receipts and vice versa.
  full?: Rendered;
  hashes?: Buffer;
  receipts?: Rendered;
}

/** A JSON array of objects as bytes, with each element's position. */
interface Rendered {
  bytes: Buffer;
  /** element i spans [offsets[i], offsets[i + 1] - 1) */
  offsets: number[];
}

/** Render `prefix[a,b,c]suffix` into bytes, remembering where each element starts. */
function renderList(prefix: string, items: string[], suffix: string): Rendered {
  const offsets: number[] = [];
  let at = prefix.length + 1;
  for (const it of items) {
    offsets.push(at);
    at += it.length + 1;
  }
  offsets.push(at);
  // Written piece by piece into one buffer: a joined megabyte-sized string would be allocated
  // (and flattened) in V8's large-object space, which is what made GC dominate. All content is
  // ASCII, so latin1 is exact and the fastest encoding.
  const bytes = Buffer.allocUnsafe(Math.max(at, prefix.length + 2) + suffix.length);
  let w = bytes.write(prefix, 0, "latin1");
  bytes[w++] = 0x5b; // [
  for (let i = 0; i < items.length; i++) {
    if (i > 0) bytes[w++] = 0x2c; // ,
    w += bytes.write(items[i]!, w, "latin1");
  }
  bytes[w++] = 0x5d; // ]
  w += bytes.write(suffix, w, "latin1");
  return { bytes: bytes.subarray(0, w), offsets };
}

function element(r: Rendered, i: number): Buffer {
  return r.bytes.subarray(r.offsets[i]!, r.offsets[i + 1]! - 1);
}

interface Pools {
  eoas: string[];
  contracts: string[];
  tokens: string[];
  builders: string[];
  events: string[];
  extraData: string[];
}

const pad32 = (address: string): string => `0x000000000000000000000000${address.slice(2)}`;

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

  constructor(opts: ChainOptions = {}) {
    const seed = opts.seed ?? 1;
    this.seed = typeof seed === "number" ? hashString(`n:${seed}`) : hashString(`s:${seed}`);
    this.chainId = checkInt(opts.chainId ?? 31337, "chainId", 1, Number.MAX_SAFE_INTEGER);
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

  /** Grow the chain (blocks are independent of the length, so existing blocks do not change). */
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
    if (d === undefined || d.kind !== KIND_BLOCK || !this.has(d.n)) return undefined;
    return this.blockHash(d.n) === hash.toLowerCase() ? d.n : undefined;
  }

  /** Block number and index of a transaction hash of this chain, if it is one. */
  locateTx(hash: string): { blockNumber: number; index: number } | undefined {
    const d = untag(this.seed, hash);
    if (d === undefined || d.kind !== KIND_TX || !this.has(d.n)) return undefined;
    if (d.i >= this.txCount(d.n) || this.txHash(d.n, d.i) !== hash.toLowerCase()) return undefined;
    return { blockNumber: d.n, index: d.i };
  }

  // ---- node-shaped views -------------------------------------------------------------------

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
    if (!this.has(n)) return null;
    return this.blockReceipts(this.model(n)).bytes;
  }

  /** eth_getTransactionByHash JSON bytes, or null for a hash that is not on this chain. */
  transactionBytes(hash: string): Buffer | null {
    const at = this.locateTx(hash);
    if (at === undefined) return null;
    return element(this.fullBlock(this.model(at.blockNumber)), at.index);
  }

  /** eth_getTransactionReceipt JSON bytes, or null for a hash that is not on this chain. */
  transactionReceiptBytes(hash: string): Buffer | null {
    const at = this.locateTx(hash);
    if (at === undefined) return null;
    return element(this.blockReceipts(this.model(at.blockNumber)), at.index);
  }

  /** eth_getLogs over [from, to] (clamped to the chain) as JSON bytes. */
  logsBytes(from: number, to: number, criteria: LogCriteria): Buffer {
    const parts: Buffer[] = [OPEN_BRACKET];
    for (let n = Math.max(0, from); n <= Math.min(to, this.head); n++) {
      const m = this.model(n);
      for (let k = 0; k < m.logs.length; k++) {
        if (!logMatches(m.logs[k]!, criteria)) continue;
        if (parts.length > 1) parts.push(COMMA);
        parts.push(m.logBytes.subarray(m.logOffsets[k]!, m.logOffsets[k + 1]! - 1));
      }
    }
    parts.push(CLOSE_BRACKET);
    return Buffer.concat(parts);
  }

  blockJson(n: number, fullTx: boolean): string | null {
    return this.blockBytes(n, fullTx)?.toString("latin1") ?? null;
  }

  receiptsJson(n: number): string | null {
    return this.receiptsBytes(n)?.toString("latin1") ?? null;
  }

  // Parsed forms, for tests and tools (the server itself only uses the JSON text).

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

  logs(filter: SyntheticLogFilter): RpcLog[] {
    const from = Math.max(0, filter.fromBlock);
    const to = Math.min(this.head, filter.toBlock);
    const criteria = parseLogCriteria(filter.address, filter.topics);
    return JSON.parse(this.logsBytes(from, to, criteria).toString("latin1"));
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
    // Mean gas per tx such that the sum stays well inside the limit.
    const meanGas = Math.max(
      21_000,
      Math.min(150_000, Math.floor((gasLimit * 0.5) / Math.max(1, txCount))),
    );
    const timestamp = this.timestamp(n);
    const tsHex = toQuantity(timestamp);
    const numHex = toQuantity(n);

    const txs: TxModel[] = [];
    let cumulative = 0;
    let blobs = 0;
    let size = 620 + WITHDRAWALS_PER_BLOCK * 28;
    for (let i = 0; i < txCount; i++) {
      const roll = r.float();
      const type: 0 | 1 | 2 | 3 = roll < 0.15 ? 0 : roll < 0.18 ? 1 : roll < 0.95 ? 2 : 3;
      const creation = type !== 3 && r.chance(0.02);
      const success = !r.chance(0.04);
      const from = p.eoas[r.int(p.eoas.length)]!;
      const plain = !creation && type !== 3 && r.chance(0.25);
      const to = creation
        ? null
        : plain
          ? p.eoas[r.int(p.eoas.length)]!
          : p.contracts[r.int(p.contracts.length)]!;
      const input = creation ? creationCode(r) : plain ? "0x" : callData(r, p);
      const gasUsed = plain ? 21_000 : 21_000 + r.int(2 * (meanGas - 21_000) + 1);
      const gas = success && r.chance(0.9) ? gasUsed + r.int(gasUsed) : gasUsed;
      cumulative += gasUsed;
      const maxPriorityFeePerGas = type >= 2 ? r.int(3 * GWEI) : 0;
      const maxFeePerGas = type >= 2 ? baseFee + r.int(40 * GWEI) : 0;
      const gasPrice =
        type >= 2
          ? baseFee + Math.min(maxPriorityFeePerGas, maxFeePerGas - baseFee)
          : baseFee + r.int(3 * GWEI);
      const blobHashes: string[] = [];
      if (type === 3) {
        const k = 1 + r.int(6);
        for (let b = 0; b < k; b++) blobHashes.push(`0x01${r.hex(31)}`);
        blobs += k;
      }
      const accessList =
        type === 1 || (type >= 2 && r.chance(0.15)) ? accessListJson(r, p) : type >= 1 ? "[]" : "";
      size += 110 + (input.length - 2) / 2 + accessList.length / 2 + blobHashes.length * 33;
      txs.push({
        hash: this.txHash(n, i),
        type,
        from,
        to,
        contractAddress: creation ? `0x${r.hex(20)}` : null,
        value: valueQuantity(r, plain),
        nonce: r.int(200_000),
        gas,
        gasUsed,
        cumulativeGasUsed: cumulative,
        gasPrice,
        maxFeePerGas,
        maxPriorityFeePerGas,
        maxFeePerBlobGas: type === 3 ? blobGasPrice + r.int(10 * GWEI) : 0,
        blobHashes,
        accessList,
        input,
        r: r.quantity(32),
        s: r.quantity(32),
        yParity: r.int(2),
        success,
        logStart: 0,
        logCount: 0,
        bloom: ZERO_BLOOM,
      });
    }

    // Logs go to successful transactions, preferring contract calls, in tx order so that
    // block-global log indices increase with the transaction index.
    const emitters = txs.filter((t) => t.success && t.input !== "0x");
    const candidates = emitters.length > 0 ? emitters : txs.filter((t) => t.success);
    if (candidates.length > 0) {
      for (let k = 0; k < logTarget; k++) candidates[r.int(candidates.length)]!.logCount++;
    }
    const logs: LogModel[] = [];
    const logJson: string[] = [];
    const blockBloom = new Uint8Array(256);
    for (let i = 0; i < txs.length; i++) {
      const tx = txs[i]!;
      tx.logStart = logs.length;
      if (tx.logCount === 0) continue;
      const bloom = new Uint8Array(256);
      const txIdxHex = toQuantity(i);
      const emitter = tx.contractAddress ?? tx.to!;
      for (let k = 0; k < tx.logCount; k++) {
        const { address, topics, data } = logContent(r, p, emitter);
        bloomAdd(bloom, address);
        for (const t of topics) bloomAdd(bloom, t);
        logJson.push(
          `{"address":"${address}","blockHash":"${hash}","blockNumber":"${numHex}",` +
            `"blockTimestamp":"${tsHex}","data":"${data}","logIndex":"${toQuantity(logs.length)}",` +
            `"removed":false,"topics":[${topics.map((t) => `"${t}"`).join(",")}],` +
            `"transactionHash":"${tx.hash}","transactionIndex":"${txIdxHex}"}`,
        );
        logs.push({ address, topics });
      }
      for (let b = 0; b < 256; b++) blockBloom[b]! |= bloom[b]!;
      tx.bloom = bloomHex(bloom);
    }

    const withdrawals: string[] = [];
    for (let w = 0; w < WITHDRAWALS_PER_BLOCK; w++) {
      withdrawals.push(
        `{"address":"${p.eoas[r.int(p.eoas.length)]}","amount":"${toQuantity(10_000_000 + r.int(10_000_000))}",` +
          `"index":"${toQuantity(n * WITHDRAWALS_PER_BLOCK + w)}","validatorIndex":"${toQuantity(r.int(1_500_000))}"}`,
      );
    }
    const root = () => `0x${r.hex(32)}`;
    const header =
      `"baseFeePerGas":"${toQuantity(baseFee)}","blobGasUsed":"${toQuantity(blobs * BLOB_GAS_PER_BLOB)}",` +
      `"difficulty":"0x0","excessBlobGas":"${toQuantity(r.int(20) * BLOB_GAS_PER_BLOB)}",` +
      `"extraData":"${p.extraData[r.int(p.extraData.length)]}","gasLimit":"${toQuantity(gasLimit)}",` +
      `"gasUsed":"${toQuantity(cumulative)}","hash":"${hash}","logsBloom":"${bloomHex(blockBloom)}",` +
      `"miner":"${p.builders[r.int(p.builders.length)]}","mixHash":"${root()}",` +
      `"nonce":"0x0000000000000000","number":"${numHex}","parentBeaconBlockRoot":"${root()}",` +
      `"parentHash":"${this.parentHash(n)}","receiptsRoot":"${txCount === 0 ? EMPTY_TRIE_ROOT : root()}",` +
      `"sha3Uncles":"${EMPTY_UNCLES_HASH}","size":"${toQuantity(Math.round(size))}",` +
      `"stateRoot":"${root()}","timestamp":"${tsHex}",` +
      `"transactionsRoot":"${txCount === 0 ? EMPTY_TRIE_ROOT : root()}","uncles":[],` +
      `"withdrawals":[${withdrawals.join(",")}],"withdrawalsRoot":"${root()}"`;
    const rendered = renderList("", logJson, "");
    const logOffsets = rendered.offsets.map((o) => o - 1); // without the list's "["
    const logBytes = rendered.bytes.subarray(1, rendered.bytes.length - 1);
    return { number: n, hash, header, txs, logs, logBytes, logOffsets, blobGasPrice };
  }

  private fullBlock(m: BlockModel): Rendered {
    m.full ??= renderList(`{${m.header},"transactions":`, this.txJsons(m), "}");
    return m.full;
  }

  private blockReceipts(m: BlockModel): Rendered {
    m.receipts ??= renderList("", this.receiptJsons(m), "");
    return m.receipts;
  }

  private txJsons(m: BlockModel): string[] {
    const blockFields = `"blockHash":"${m.hash}","blockNumber":"${toQuantity(m.number)}","blockTimestamp":"${toQuantity(this.timestamp(m.number))}"`;
    const chainId = toQuantity(this.chainId);
    return m.txs.map((t, i) => {
      let s = "{";
      if (t.accessList !== "") s += `"accessList":${t.accessList},`;
      if (t.type === 3)
        s += `"blobVersionedHashes":[${t.blobHashes.map((h) => `"${h}"`).join(",")}],`;
      s += `${blockFields},"chainId":"${chainId}","from":"${t.from}","gas":"${toQuantity(t.gas)}",`;
      s += `"gasPrice":"${toQuantity(t.gasPrice)}","hash":"${t.hash}","input":"${t.input}",`;
      if (t.type === 3) s += `"maxFeePerBlobGas":"${toQuantity(t.maxFeePerBlobGas)}",`;
      if (t.type >= 2) {
        s += `"maxFeePerGas":"${toQuantity(t.maxFeePerGas)}","maxPriorityFeePerGas":"${toQuantity(t.maxPriorityFeePerGas)}",`;
      }
      // Legacy transactions carry the EIP-155 v (chainId * 2 + 35 + parity); typed ones the parity.
      const v = t.type === 0 ? this.chainId * 2 + 35 + t.yParity : t.yParity;
      s += `"nonce":"${toQuantity(t.nonce)}","r":"${t.r}","s":"${t.s}",`;
      s += `"to":${t.to === null ? "null" : `"${t.to}"`},"transactionIndex":"${toQuantity(i)}",`;
      s += `"type":"${toQuantity(t.type)}","v":"${toQuantity(v)}","value":"${t.value}"`;
      if (t.type !== 0) s += `,"yParity":"${toQuantity(t.yParity)}"`;
      return `${s}}`;
    });
  }

  private receiptJsons(m: BlockModel): string[] {
    const numHex = toQuantity(m.number);
    return m.txs.map((t, i) => {
      let s = "{";
      if (t.type === 3) {
        s += `"blobGasPrice":"${toQuantity(m.blobGasPrice)}","blobGasUsed":"${toQuantity(t.blobHashes.length * BLOB_GAS_PER_BLOB)}",`;
      }
      const logs =
        t.logCount === 0
          ? ""
          : m.logBytes.toString(
              "latin1",
              m.logOffsets[t.logStart]!,
              m.logOffsets[t.logStart + t.logCount]! - 1,
            );
      s += `"blockHash":"${m.hash}","blockNumber":"${numHex}",`;
      s += `"contractAddress":${t.contractAddress === null ? "null" : `"${t.contractAddress}"`},`;
      s += `"cumulativeGasUsed":"${toQuantity(t.cumulativeGasUsed)}","effectiveGasPrice":"${toQuantity(t.gasPrice)}",`;
      s += `"from":"${t.from}","gasUsed":"${toQuantity(t.gasUsed)}","logs":[${logs}],`;
      s += `"logsBloom":"${t.bloom}","status":"${t.success ? "0x1" : "0x0"}",`;
      s += `"to":${t.to === null ? "null" : `"${t.to}"`},"transactionHash":"${t.hash}",`;
      s += `"transactionIndex":"${toQuantity(i)}","type":"${toQuantity(t.type)}"}`;
      return s;
    });
  }
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
  return `0x${w.map(hexWord).join("")}${hexWord(t0)}${hexWord(t1)}`;
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
  const addrs = (k: number) => Array.from({ length: k }, () => `0x${r.hex(20)}`);
  return {
    eoas: addrs(4096),
    contracts: addrs(512),
    tokens: addrs(256),
    builders: addrs(12),
    events: Array.from({ length: 48 }, () => `0x${r.hex(32)}`),
    extraData: Array.from({ length: 12 }, () => `0x${r.hex(r.int(33))}`),
  };
}

function valueQuantity(r: Rng, plain: boolean): string {
  const roll = r.float();
  if (!plain && roll < 0.45) return "0x0";
  // Above 2^64: at least 9 significant bytes (cryo's u64 columns wrap, binary ones must not).
  if (roll > 0.9) return `0x${(1 + r.int(255)).toString(16)}${r.hex(8 + r.int(4))}`;
  return r.quantity(1 + r.int(8));
}

function callData(r: Rng, p: Pools): string {
  let s = `0x${r.hex(4)}`;
  const words = r.chance(0.05) ? 16 + r.int(48) : r.int(9);
  for (let k = 0; k < words; k++) {
    const roll = r.float();
    if (roll < 0.4) s += `000000000000000000000000${p.eoas[r.int(p.eoas.length)]!.slice(2)}`;
    else if (roll < 0.75) s += `${"0".repeat(48)}${r.hex(8)}`;
    else s += r.hex(32);
  }
  // A few odd-length calldata payloads, as real contracts accept them.
  if (r.chance(0.03)) s += r.hex(1 + r.int(31));
  return s;
}

function creationCode(r: Rng): string {
  return `0x608060405234801561001057600080fd5b50${r.hex(100 + r.int(1400))}`;
}

function accessListJson(r: Rng, p: Pools): string {
  const entries: string[] = [];
  const k = 1 + r.int(3);
  for (let e = 0; e < k; e++) {
    const keys: string[] = [];
    const nk = r.int(4);
    for (let j = 0; j < nk; j++) keys.push(`"0x${r.hex(32)}"`);
    entries.push(
      `{"address":"${p.contracts[r.int(p.contracts.length)]}","storageKeys":[${keys.join(",")}]}`,
    );
  }
  return `[${entries.join(",")}]`;
}

function logContent(
  r: Rng,
  p: Pools,
  emitter: string,
): { address: string; topics: string[]; data: string } {
  const roll = r.float();
  const holder = () => pad32(p.eoas[r.int(p.eoas.length)]!);
  const token = () => p.tokens[r.int(p.tokens.length)]!;
  if (roll < 0.62) {
    // ERC-20 Transfer: 3 topics and a 32-byte amount (what cryo's erc20_transfers keeps).
    return {
      address: token(),
      topics: [TRANSFER_TOPIC, holder(), holder()],
      data: `0x${"0".repeat(40)}${r.hex(12)}`,
    };
  }
  if (roll < 0.7) {
    // ERC-721 Transfer: same topic0, token id as a 4th topic, no data.
    return {
      address: token(),
      topics: [TRANSFER_TOPIC, holder(), holder(), `0x${"0".repeat(56)}${r.hex(4)}`],
      data: "0x",
    };
  }
  if (roll < 0.77) {
    return {
      address: token(),
      topics: [APPROVAL_TOPIC, holder(), holder()],
      data: `0x${r.hex(32)}`,
    };
  }
  const nTopics = r.int(5);
  const topics: string[] = [];
  if (nTopics > 0) topics.push(p.events[r.int(p.events.length)]!);
  for (let t = 1; t < nTopics; t++) topics.push(r.chance(0.5) ? holder() : `0x${r.hex(32)}`);
  const bytes = r.chance(0.1) ? r.int(300) : 32 * r.int(9);
  return {
    address: r.chance(0.5) ? emitter : p.contracts[r.int(p.contracts.length)]!,
    topics,
    data: `0x${r.hex(bytes)}`,
  };
}

/** Set three bloom bits taken from the value's last six bytes (real nodes use keccak bytes). */
function bloomAdd(bloom: Uint8Array, hex: string): void {
  const end = hex.length;
  for (let k = 0; k < 3; k++) {
    const bit = Number.parseInt(hex.slice(end - 4 * (k + 1), end - 4 * k), 16) & 2047;
    bloom[255 - (bit >>> 3)]! |= 1 << (bit & 7);
  }
}

function bloomHex(bloom: Uint8Array): string {
  let s = "0x";
  for (let b = 0; b < 256; b++) s += HEX[bloom[b]!]!;
  return s;
}
