/**
 * Fail-closed response validation. Every rule that breaks throws InvalidResponseError (retryable:
 * another attempt or endpoint may answer correctly); the client turns a rule that keeps breaking
 * into a FatalError. Messages name the block and what was wrong; callers add the method.
 */
import { InvalidResponseError } from "./errors.ts";
import { isAddress, isHash, isHexData, isHexQuantity, preview } from "./hex.ts";
import type { LogFilter, RpcBlock, RpcLog, RpcReceipt, RpcTransaction } from "./types.ts";

type Obj = Record<string, unknown>;

function fail(message: string): never {
  throw new InvalidResponseError(message);
}

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function sameHex(a: string, b: string): boolean {
  return a === b || a.toLowerCase() === b.toLowerCase();
}

/** Parse a quantity already checked by isHexQuantity (cheap; fine for block numbers/indices). */
function qty(v: string): number {
  return Number.parseInt(v.slice(2), 16);
}

type Check = (v: unknown) => boolean;
const quantity: Check = isHexQuantity;
const data: Check = isHexData;
const hash: Check = isHash;
const address: Check = isAddress;
const addressOrNull: Check = (v) => v === null || isAddress(v);

function need(o: Obj, field: string, check: Check, where: string): void {
  const v = o[field];
  if (v === undefined) fail(`${where}: missing field ${field}`);
  if (!check(v)) fail(`${where}: malformed ${field} ${preview(v)}`);
}

function opt(o: Obj, field: string, check: Check, where: string): void {
  const v = o[field];
  if (v !== undefined && !check(v)) fail(`${where}: malformed ${field} ${preview(v)}`);
}

/** eth_getBlockByNumber result: the block asked for, with well-formed header and transactions. */
export function validateBlock(result: unknown, asked: number, fullTransactions: boolean): RpcBlock {
  const where = `block ${asked}`;
  if (result === null || result === undefined)
    fail(`${where}: node returned null (block unknown to the node)`);
  if (!isObj(result)) fail(`${where}: expected a block object, got ${preview(result)}`);
  need(result, "number", quantity, where);
  const got = qty(result.number as string);
  if (got !== asked) fail(`${where}: wrong block returned (number ${got})`);
  need(result, "hash", hash, where);
  need(result, "parentHash", hash, where);
  need(result, "timestamp", quantity, where);
  need(result, "gasUsed", quantity, where);
  need(result, "gasLimit", quantity, where);
  need(result, "miner", address, where);
  need(result, "extraData", data, where);
  for (const f of [
    "stateRoot",
    "transactionsRoot",
    "receiptsRoot",
    "sha3Uncles",
    "mixHash",
    "withdrawalsRoot",
    "parentBeaconBlockRoot",
  ]) {
    opt(result, f, hash, where);
  }
  for (const f of [
    "baseFeePerGas",
    "difficulty",
    "totalDifficulty",
    "size",
    "blobGasUsed",
    "excessBlobGas",
  ]) {
    opt(result, f, quantity, where);
  }
  opt(result, "logsBloom", data, where);
  opt(result, "nonce", data, where);
  const txs = result.transactions;
  if (!Array.isArray(txs)) fail(`${where}: missing field transactions`);
  const blockHash = result.hash as string;
  for (let i = 0; i < txs.length; i++) {
    const tx: unknown = txs[i];
    if (!fullTransactions) {
      if (!isHash(tx)) fail(`${where}: transaction ${i} is not a hash: ${preview(tx)}`);
      continue;
    }
    validateTransaction(tx, asked, blockHash, i);
  }
  return result as unknown as RpcBlock;
}

function validateTransaction(tx: unknown, block: number, blockHash: string, index: number): void {
  const where = `block ${block}: transaction ${index}`;
  if (!isObj(tx)) fail(`${where}: expected a transaction object, got ${preview(tx)}`);
  need(tx, "hash", hash, where);
  need(tx, "blockHash", hash, where);
  if (!sameHex(tx.blockHash as string, blockHash)) {
    fail(`${where}: blockHash ${tx.blockHash} does not match the block's hash ${blockHash}`);
  }
  need(tx, "blockNumber", quantity, where);
  if (qty(tx.blockNumber as string) !== block)
    fail(`${where}: blockNumber ${tx.blockNumber} is not ${block}`);
  need(tx, "transactionIndex", quantity, where);
  if (qty(tx.transactionIndex as string) !== index) {
    fail(`${where}: transactionIndex ${tx.transactionIndex} is not its position ${index}`);
  }
  need(tx, "from", address, where);
  opt(tx, "to", addressOrNull, where);
  need(tx, "nonce", quantity, where);
  need(tx, "value", quantity, where);
  need(tx, "gas", quantity, where);
  need(tx, "input", data, where);
  for (const f of [
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
  ]) {
    opt(tx, f, quantity, where);
  }
}

/** The transaction hashes of a block, whichever way it was fetched. */
export function blockTxHashes(block: RpcBlock): string[] {
  return (block.transactions as (string | RpcTransaction)[]).map((t) =>
    typeof t === "string" ? t : t.hash,
  );
}

/**
 * Receipts of a whole block (eth_getBlockReceipts): one per transaction, in order, each
 * matching the block's hash/number and its transaction's hash/index; logs consistent with both.
 */
export function validateBlockReceipts(result: unknown, block: RpcBlock): RpcReceipt[] {
  const number = qty(block.number);
  const where = `block ${number}`;
  if (result === null || result === undefined)
    fail(`${where}: node returned null receipts (block unknown to the node)`);
  if (!Array.isArray(result))
    fail(`${where}: expected an array of receipts, got ${preview(result)}`);
  const hashes = blockTxHashes(block);
  if (result.length !== hashes.length) {
    fail(`${where}: ${result.length} receipts for ${hashes.length} transactions`);
  }
  const logIndex = { last: -1 };
  for (let i = 0; i < result.length; i++) {
    validateReceipt(result[i], block, i, hashes[i]!, logIndex);
  }
  return result as RpcReceipt[];
}

/**
 * One receipt against its block and transaction position. `logIndex.last` carries the last
 * log index seen in the block so indices are checked to increase across receipts.
 */
export function validateReceipt(
  receipt: unknown,
  block: RpcBlock,
  index: number,
  txHash: string,
  logIndex: { last: number } = { last: -1 },
): RpcReceipt {
  const number = qty(block.number);
  const where = `block ${number}: receipt ${index}`;
  if (receipt === null || receipt === undefined)
    fail(`${where}: node returned null (receipt unknown to the node)`);
  if (!isObj(receipt)) fail(`${where}: expected a receipt object, got ${preview(receipt)}`);
  need(receipt, "transactionHash", hash, where);
  if (!sameHex(receipt.transactionHash as string, txHash)) {
    fail(
      `${where}: transactionHash ${receipt.transactionHash} does not match the block's transaction ${index} (${txHash})`,
    );
  }
  need(receipt, "transactionIndex", quantity, where);
  if (qty(receipt.transactionIndex as string) !== index) {
    fail(`${where}: transactionIndex ${receipt.transactionIndex} is not ${index}`);
  }
  need(receipt, "blockHash", hash, where);
  if (!sameHex(receipt.blockHash as string, block.hash)) {
    fail(
      `${where}: receipt for the wrong block (blockHash ${receipt.blockHash}, block is ${block.hash})`,
    );
  }
  need(receipt, "blockNumber", quantity, where);
  if (qty(receipt.blockNumber as string) !== number) {
    fail(
      `${where}: receipt for the wrong block (blockNumber ${qty(receipt.blockNumber as string)})`,
    );
  }
  need(receipt, "from", address, where);
  opt(receipt, "to", addressOrNull, where);
  need(receipt, "gasUsed", quantity, where);
  need(receipt, "cumulativeGasUsed", quantity, where);
  if (receipt.status === undefined && receipt.root === undefined)
    fail(`${where}: missing field status`);
  opt(receipt, "status", quantity, where);
  opt(receipt, "root", data, where);
  for (const f of ["effectiveGasPrice", "type", "blobGasUsed", "blobGasPrice"])
    opt(receipt, f, quantity, where);
  opt(receipt, "contractAddress", addressOrNull, where);
  opt(receipt, "logsBloom", data, where);
  const logs = receipt.logs;
  if (!Array.isArray(logs)) fail(`${where}: missing field logs`);
  for (let j = 0; j < logs.length; j++) {
    const log = logs[j];
    const lw = `${where}: log ${j}`;
    validateLogShape(log, lw);
    checkLogBlock(log, number, block.hash, lw);
    if (!sameHex(log.transactionHash, txHash))
      fail(`${lw}: transactionHash ${log.transactionHash} is not ${txHash}`);
    if (qty(log.transactionIndex) !== index)
      fail(`${lw}: transactionIndex ${log.transactionIndex} is not ${index}`);
    const li = qty(log.logIndex);
    if (li <= logIndex.last)
      fail(`${lw}: logIndex ${li} does not increase (previous ${logIndex.last})`);
    logIndex.last = li;
  }
  return receipt as unknown as RpcReceipt;
}

function validateLogShape(log: unknown, where: string): asserts log is RpcLog {
  if (!isObj(log)) fail(`${where}: expected a log object, got ${preview(log)}`);
  need(log, "address", address, where);
  const topics = log.topics;
  if (!Array.isArray(topics)) fail(`${where}: missing field topics`);
  if (topics.length > 4) fail(`${where}: ${topics.length} topics (at most 4)`);
  for (const t of topics) if (!isHash(t)) fail(`${where}: malformed topic ${preview(t)}`);
  need(log, "data", data, where);
  need(log, "blockNumber", quantity, where);
  need(log, "blockHash", hash, where);
  need(log, "transactionHash", hash, where);
  need(log, "transactionIndex", quantity, where);
  need(log, "logIndex", quantity, where);
  if (log.removed === true) fail(`${where}: log marked removed (reorged out)`);
}

function checkLogBlock(log: RpcLog, number: number, blockHash: string, where: string): void {
  if (qty(log.blockNumber) !== number)
    fail(
      `${where}: log for the wrong block (blockNumber ${qty(log.blockNumber)}, expected ${number})`,
    );
  if (!sameHex(log.blockHash, blockHash))
    fail(`${where}: log for the wrong block (blockHash ${log.blockHash}, block is ${blockHash})`);
}

function lowerSet(v: string | string[] | null | undefined): Set<string> | undefined {
  if (v === null || v === undefined) return undefined;
  const arr = Array.isArray(v) ? v : [v];
  return arr.length === 0 ? undefined : new Set(arr.map((x) => x.toLowerCase()));
}

/**
 * eth_getLogs result: every log inside the range and matching the filter, one hash per block
 * (and the known hash, when the block was fetched before), no duplicate log indices.
 */
export function validateLogs(
  result: unknown,
  filter: LogFilter,
  knownHash: (block: number) => string | undefined = () => undefined,
): RpcLog[] {
  const range = `blocks ${filter.fromBlock}..${filter.toBlock}`;
  if (!Array.isArray(result)) fail(`${range}: expected an array of logs, got ${preview(result)}`);
  const addresses = lowerSet(filter.address);
  const topicSets = (filter.topics ?? []).map(lowerSet);
  const hashOf = new Map<number, string>();
  const seen = new Set<string>();
  for (let i = 0; i < result.length; i++) {
    const log: unknown = result[i];
    let where = `${range}: log ${i}`;
    validateLogShape(log, where);
    const n = qty(log.blockNumber);
    where = `block ${n}: log ${i} of ${range}`;
    if (n < filter.fromBlock || n > filter.toBlock)
      fail(`${where}: block ${n} is outside the requested range`);
    const expected = hashOf.get(n) ?? knownHash(n);
    if (expected !== undefined && !sameHex(expected, log.blockHash)) {
      fail(`${where}: log for the wrong block (blockHash ${log.blockHash}, block is ${expected})`);
    }
    hashOf.set(n, log.blockHash);
    const key = `${n}:${qty(log.logIndex)}`;
    if (seen.has(key)) fail(`${where}: duplicate logIndex ${qty(log.logIndex)}`);
    seen.add(key);
    if (addresses && !addresses.has(log.address.toLowerCase()))
      fail(`${where}: address ${log.address} does not match the filter`);
    for (let t = 0; t < topicSets.length; t++) {
      const want = topicSets[t];
      if (!want) continue;
      const have = log.topics[t];
      if (have === undefined || !want.has(have.toLowerCase()))
        fail(`${where}: topic${t} ${have ?? "(none)"} does not match the filter`);
    }
  }
  return result as RpcLog[];
}
