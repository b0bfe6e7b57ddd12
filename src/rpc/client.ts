/**
 * The one place that talks JSON-RPC. Batching, a global concurrency cap, an optional
 * requests/s cap, retries with exponential backoff + jitter, an endpoint pool with backoff and
 * failover, the eth_getBlockReceipts → eth_getTransactionReceipt fallback, and fail-closed
 * response validation. Hex values are returned exactly as the node sent them.
 */
import { Agent } from "undici";
import { FatalError, RetryableError, TraceError } from "../core/errors.ts";
import { BlockHashes } from "./block-hashes.ts";
import { checkDecodedBlock, DecodedBlock, decodeBlocksResponse } from "./blocks-decode.ts";
import { Endpoint, RateLimitedError } from "./endpoint.ts";
import {
  classifyJsonRpcError,
  describeJsonRpcError,
  InvalidResponseError,
  type JsonRpcErrorObject,
  LogRangeTooLargeError,
  MethodUnsupportedError,
  NotJsonRpcError,
  ResponseTooLargeError,
} from "./errors.ts";
import { isHexQuantity, parseHexQuantity, toHexQuantity } from "./hex.ts";
import { backoffDelay, RateLimiter, Semaphore, sleep, throwIfAborted } from "./limits.ts";
import { checkLogColumns, LogColumns } from "./log-columns.ts";
import { decodeLogsResponse } from "./logs-decode.ts";
import { checkReceiptColumns, decodeReceiptsResponse, ReceiptColumns } from "./receipts-decode.ts";
import type { TxColumns } from "./tx-columns.ts";
import type {
  LogFilter,
  RpcBlock,
  RpcBlockHeader,
  RpcClientOptions,
  RpcLog,
  RpcReceipt,
  RpcStats,
} from "./types.ts";
import {
  blockTxHashes,
  validateBlock,
  validateBlockReceipts,
  validateLogs,
  validateReceipt,
} from "./validate.ts";

/** One JSON-RPC call plus how to check its result. */
/** Per-call options. `signal`: abandon the call (waiting for a slot, in flight, or between retries). */
export interface CallOptions {
  signal?: AbortSignal;
}

interface Call {
  method: string;
  params: unknown[];
  /** Throws InvalidResponseError on bad data; returns the (typed) result. */
  validate?: (result: unknown) => unknown;
  /** "Method not supported" is expected (we have a fallback): try other endpoints, then signal. */
  optional?: boolean;
  /** eth_getLogs: a "too many results" answer is thrown at once so the caller can split. */
  splittable?: boolean;
  /**
   * Decodes the whole response body of a batch of such calls without JSON.parse (undefined: not
   * in the form it takes, parse it as JSON). `validate` then gets either kind of result.
   */
  decode?: (body: Buffer) => unknown;
}

interface ResponseItem {
  id?: unknown;
  result?: unknown;
  error?: JsonRpcErrorObject | null;
}

const DEFAULT_BACKOFF = { baseMs: 250, maxMs: 10_000 };
const DEFAULT_COOLDOWN = { baseMs: 1_000, maxMs: 30_000 };
/** Block hashes remembered for cross-checking eth_getLogs: any 50,000 consecutive blocks. */
const KNOWN_HASHES = 50_000;
/**
 * Largest response taken by default. A mainnet batch of 10 full blocks or block receipts is a
 * few MB; this leaves room for chains with much bigger blocks, while a garbage or endless body
 * is cut off long before it threatens the process (a larger batch answer is split, see execute).
 */
const DEFAULT_MAX_RESPONSE_BYTES = 128 * 1024 * 1024;
/** Never wait longer than this for a backed-off endpoint (absurd Retry-After values). */
const MAX_ENDPOINT_WAIT_MS = 60_000;

export class RpcClient {
  private readonly endpoints: Endpoint[];
  private readonly agent: Agent;
  private readonly semaphore: Semaphore;
  private readonly rateLimiter: RateLimiter | undefined;
  private readonly batchSize: number;
  private readonly heavyBatchSize: number;
  private readonly maxAttempts: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private readonly cooldown: { baseMs: number; maxMs: number };
  private readonly knownHashes = new BlockHashes(KNOWN_HASHES);
  private roundRobin = 0;
  private nextId = 1;
  private closed = false;
  private readonly counters = {
    requests: 0,
    calls: 0,
    retries: 0,
    failures: 0,
    receiptFallbacks: 0,
  };

  constructor(opts: RpcClientOptions) {
    if (!Array.isArray(opts.urls) || opts.urls.length === 0) {
      throw new FatalError("RpcClient needs at least one RPC URL", { category: "config" });
    }
    this.batchSize = positiveInt(opts.batchSize ?? 100, "batchSize");
    // Full blocks and block receipts can be MBs each: batch fewer per request to bound memory.
    this.heavyBatchSize = positiveInt(
      opts.heavyBatchSize ?? Math.min(this.batchSize, 10),
      "heavyBatchSize",
    );
    const maxConcurrent = positiveInt(opts.maxConcurrentRequests ?? 50, "maxConcurrentRequests");
    this.maxAttempts = positiveInt(opts.maxAttempts ?? 8, "maxAttempts");
    const timeoutMs = positiveInt(opts.requestTimeoutMs ?? 30_000, "requestTimeoutMs");
    const maxResponseBytes = positiveInt(
      opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      "maxResponseBytes",
    );
    this.backoff = delayRange(opts.backoff ?? DEFAULT_BACKOFF, "backoff");
    this.cooldown = delayRange(opts.endpointCooldown ?? DEFAULT_COOLDOWN, "endpointCooldown");
    if (opts.requestsPerSecond !== undefined) {
      if (!(opts.requestsPerSecond > 0) || !Number.isFinite(opts.requestsPerSecond)) {
        throw new FatalError(
          `requestsPerSecond must be a positive number, got ${opts.requestsPerSecond}`,
          {
            category: "config",
          },
        );
      }
      this.rateLimiter = new RateLimiter(opts.requestsPerSecond);
    }
    this.semaphore = new Semaphore(maxConcurrent);
    this.agent = new Agent({
      connections: maxConcurrent,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      // undici counts the body as it arrives and cuts the connection at the limit, so a garbage
      // or endless answer never fills memory.
      maxResponseSize: maxResponseBytes,
    });
    const labels = new Map<string, number>();
    this.endpoints = opts.urls.map((url, i) => {
      const base = typeof url === "string" ? Endpoint.labelFor(url) : `<url ${i + 1}>`;
      const seen = labels.get(base) ?? 0;
      labels.set(base, seen + 1);
      const label = seen === 0 ? base : `${base}#${seen + 1}`;
      return new Endpoint(String(url), label, this.agent, timeoutMs, maxResponseBytes);
    });
  }

  /** One call; the result as the node sent it. */
  async call<T = unknown>(method: string, params: unknown[], opts: CallOptions = {}): Promise<T> {
    const [result] = await this.execute([{ method, params }], opts.signal);
    return result as T;
  }

  /** Many calls, sent as JSON-RPC batches of `batchSize`; results in the order of `calls`. */
  async batch<T = unknown>(
    calls: { method: string; params: unknown[] }[],
    opts: CallOptions = {},
  ): Promise<T[]> {
    return (await this.run(
      calls.map((c) => ({ method: c.method, params: c.params })),
      this.batchSize,
      opts.signal,
    )) as T[];
  }

  async chainId(): Promise<number> {
    return (
      await this.execute([
        { method: "eth_chainId", params: [], validate: quantityResult("eth_chainId") },
      ])
    )[0] as number;
  }

  async blockNumber(): Promise<number> {
    return (
      await this.execute([
        { method: "eth_blockNumber", params: [], validate: quantityResult("eth_blockNumber") },
      ])
    )[0] as number;
  }

  /** Blocks in the order asked, each validated (number, header fields, transactions). */
  async getBlocks(
    numbers: number[],
    fullTransactions: boolean,
    opts: CallOptions = {},
  ): Promise<RpcBlock[]> {
    return (await this.fetchBlocks(
      numbers,
      fullTransactions,
      false,
      opts,
      "getBlocks",
    )) as RpcBlock[];
  }

  /**
   * Block headers (eth_getBlockByNumber without full transactions), validated as getBlocks
   * validates them, but decoded from the response bytes when the answer is in the usual form:
   * only the header's strings are made, the transaction hashes are checked and dropped.
   */
  async getBlockHeaders(numbers: number[], opts: CallOptions = {}): Promise<RpcBlockHeader[]> {
    const blocks = await this.fetchBlocks(numbers, false, true, opts, "getBlockHeaders");
    return blocks.map((b) => (b instanceof DecodedBlock ? b.header : b));
  }

  /**
   * Full blocks, and their receipts when `receipts` (as getBlocksWithReceiptColumns gives them),
   * with the transactions decoded from the response bytes into TxColumns when the answer is in
   * the usual form (`txs`), and otherwise as getBlocks gives them (`txs` undefined). Validated
   * by the same rules either way.
   */
  async getTransactionBlocks(
    numbers: number[],
    receipts: boolean,
    opts: CallOptions = {},
  ): Promise<TransactionBlock[]> {
    if (!receipts) {
      const blocks = await this.fetchBlocks(numbers, true, true, opts, "getTransactionBlocks");
      return blocks.map((b) =>
        b instanceof DecodedBlock
          ? { block: b.header, txs: b.txs as TxColumns, receipts: null }
          : { block: b, txs: undefined, receipts: null },
      );
    }
    const res = await this.blocksWithReceipts(numbers, opts, true, true);
    return res.map(({ block, receipts }) =>
      block instanceof DecodedBlock
        ? { block: block.header, txs: block.txs as TxColumns, receipts }
        : { block, txs: undefined, receipts },
    );
  }

  private async fetchBlocks(
    numbers: number[],
    fullTransactions: boolean,
    fromBytes: boolean,
    opts: CallOptions,
    caller: string,
  ): Promise<(RpcBlock | DecodedBlock)[]> {
    for (const n of numbers) blockNumberArg(n, caller);
    const decode = fromBytes ? (fullTransactions ? decodeFullBlocks : decodeHashBlocks) : undefined;
    const blocks = (await this.run(
      numbers.map((n) => ({
        method: "eth_getBlockByNumber",
        params: [toHexQuantity(n), fullTransactions],
        validate: (r: unknown) =>
          r instanceof DecodedBlock
            ? checkDecodedBlock(r, n)
            : validateBlock(r, n, fullTransactions),
        ...(decode ? { decode } : {}),
      })),
      fullTransactions ? this.heavyBatchSize : this.batchSize,
      opts.signal,
    )) as (RpcBlock | DecodedBlock)[];
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i] as RpcBlock | DecodedBlock;
      this.knownHashes.set(numbers[i]!, b instanceof DecodedBlock ? b.header.hash : b.hash);
    }
    return blocks;
  }

  /**
   * The receipts of a block, validated against it (count, order, hashes, indices, logs).
   * Uses eth_getBlockReceipts; endpoints that do not support it are remembered and skipped,
   * and when none does, falls back to one eth_getTransactionReceipt per transaction.
   */
  async getBlockReceipts(block: RpcBlock, opts: CallOptions = {}): Promise<RpcReceipt[]> {
    const number = this.blockOf(block);
    if (block.transactions.length === 0) return [];
    if (this.someEndpointSupports("eth_getBlockReceipts")) {
      try {
        const [receipts] = await this.execute(
          [
            {
              method: "eth_getBlockReceipts",
              params: [toHexQuantity(number)],
              validate: (r) => validateBlockReceipts(r, block),
              optional: true,
            },
          ],
          opts.signal,
        );
        return receipts as RpcReceipt[];
      } catch (err) {
        if (!(err instanceof MethodUnsupportedError)) throw err;
      }
    }
    return await this.receiptsPerTransaction(block, opts.signal);
  }

  /** Full blocks and their receipts, fetched concurrently in batches, validated together. */
  async getBlocksWithReceipts(
    numbers: number[],
    opts: CallOptions = {},
  ): Promise<{ block: RpcBlock; receipts: RpcReceipt[] }[]> {
    return (await this.blocksWithReceipts(numbers, opts, false, false)) as {
      block: RpcBlock;
      receipts: RpcReceipt[];
    }[];
  }

  /**
   * getBlocksWithReceipts, except that a block's receipts come as ReceiptColumns (their
   * gasUsed and status, decoded from the response bytes without JSON.parse, every field checked
   * as validateReceipt does) when the answer is in the usual form, and as RpcReceipt objects
   * otherwise.
   */
  async getBlocksWithReceiptColumns(
    numbers: number[],
    opts: CallOptions = {},
  ): Promise<{ block: RpcBlock; receipts: RpcReceipt[] | ReceiptColumns }[]> {
    // Blocks through JSON (blocksFromBytes false): every block is an RpcBlock.
    return (await this.blocksWithReceipts(numbers, opts, true, false)) as {
      block: RpcBlock;
      receipts: RpcReceipt[] | ReceiptColumns;
    }[];
  }

  /** Full blocks with their receipts; `blocksFromBytes`: blocks may come as DecodedBlock. */
  private async blocksWithReceipts(
    numbers: number[],
    opts: CallOptions,
    columns: boolean,
    blocksFromBytes: boolean,
  ): Promise<{ block: RpcBlock | DecodedBlock; receipts: RpcReceipt[] | ReceiptColumns }[]> {
    for (const n of numbers) blockNumberArg(n, "getBlocksWithReceipts");
    const blocksP = this.fetchBlocks(numbers, true, blocksFromBytes, opts, "getBlocksWithReceipts");
    // Receipts are requested alongside the blocks (not after) so both overlap on the wire; they are
    // cross-checked against the blocks once both arrive, and refetched individually on mismatch.
    const receiptsP: Promise<unknown[] | null> = this.someEndpointSupports("eth_getBlockReceipts")
      ? this.run(
          numbers.map((n) => ({
            method: "eth_getBlockReceipts",
            params: [toHexQuantity(n)],
            optional: true,
            ...(columns ? { decode: decodeReceiptsResponse } : {}),
          })),
          this.heavyBatchSize,
          opts.signal,
        ).catch((err: unknown) => {
          if (err instanceof MethodUnsupportedError) return null;
          throw err;
        })
      : Promise.resolve(null);
    const [blocks, early] = await Promise.all([blocksP, receiptsP]);
    return await Promise.all(
      blocks.map(async (block, i) => {
        // The checks take a block with its transaction hashes; one decoded from bytes makes it
        // only when the byte comparison below does not settle it.
        let withHashes = block instanceof DecodedBlock ? undefined : block;
        const full = () => {
          withHashes ??= (block as DecodedBlock).withHashes();
          return withHashes;
        };
        if (early !== null) {
          try {
            const receipts = early[i];
            if (!(receipts instanceof ReceiptColumns))
              return { block, receipts: validateBlockReceipts(receipts, full()) };
            if (block instanceof DecodedBlock && block.matches(receipts))
              return { block, receipts };
            return { block, receipts: checkReceiptColumns(receipts, full()) };
          } catch (err) {
            if (!(err instanceof InvalidResponseError)) throw err;
            this.counters.failures++;
          }
        }
        return { block, receipts: await this.getBlockReceipts(full(), opts) };
      }),
    );
  }

  /**
   * Logs of a block range, validated (inside the range, matching the filter, one hash per block,
   * and equal to the hash of any block this client fetched before). A range the node refuses as
   * too large is split in halves until it fits.
   */
  async getLogs(filter: LogFilter, opts: CallOptions = {}): Promise<RpcLog[]> {
    const call = this.logsCall(filter);
    try {
      const [logs] = await this.execute([call], opts.signal);
      return logs as RpcLog[];
    } catch (err) {
      if (!(err instanceof LogRangeTooLargeError) || filter.fromBlock >= filter.toBlock) throw err;
      const mid = filter.fromBlock + Math.floor((filter.toBlock - filter.fromBlock) / 2);
      const [a, b] = await Promise.all([
        this.getLogs({ ...filter, toBlock: mid }, opts),
        this.getLogs({ ...filter, fromBlock: mid + 1 }, opts),
      ]);
      return a.concat(b);
    }
  }

  /**
   * The logs of several filters (one list each, validated as getLogs does), sent as JSON-RPC
   * batches of the heavy batch size rather than one HTTP request per filter: with cryo's default
   * of one block per eth_getLogs, that is what keeps a slow node's round trips and the request
   * cap from bounding throughput. When the node refuses a range as too large, each filter falls
   * back to getLogs, which splits its range until it fits.
   */
  async getLogsMany(filters: readonly LogFilter[], opts: CallOptions = {}): Promise<RpcLog[][]> {
    const calls = filters.map((f) => this.logsCall(f));
    try {
      return (await this.run(calls, this.heavyBatchSize, opts.signal)) as RpcLog[][];
    } catch (err) {
      if (!(err instanceof LogRangeTooLargeError)) throw err;
      return await Promise.all(filters.map((f) => this.getLogs(f, opts)));
    }
  }

  /**
   * getLogsMany's logs as columns (LogColumns), each list in (block, logIndex) order. The
   * answers are decoded from the response bytes without JSON.parse when they are in the usual
   * form (logs-decode.ts), and checked by the same rules. Filters by block range only.
   */
  async getLogsColumnar(
    filters: readonly { fromBlock: number; toBlock: number }[],
    opts: CallOptions = {},
  ): Promise<LogColumns[]> {
    const calls = filters.map((f) => this.logsColumnarCall(f));
    try {
      return (await this.run(calls, this.heavyBatchSize, opts.signal)) as LogColumns[];
    } catch (err) {
      if (!(err instanceof LogRangeTooLargeError)) throw err;
      // The node refused a range: getLogs splits it until it fits (the rare path, via JSON).
      return await Promise.all(
        filters.map(async (f) => {
          const logs = await this.getLogs({ fromBlock: f.fromBlock, toBlock: f.toBlock }, opts);
          return checkLogColumns(logColumnsOf(logs), f, (n) => this.knownHashes.get(n));
        }),
      );
    }
  }

  private logsColumnarCall(filter: LogFilter): Call {
    const call = this.logsCall({ fromBlock: filter.fromBlock, toBlock: filter.toBlock });
    const known = (n: number) => this.knownHashes.get(n);
    return {
      ...call,
      decode: decodeLogsResponse,
      validate: (r) =>
        checkLogColumns(
          r instanceof LogColumns ? r : logColumnsOf(validateLogs(r, filter, known)),
          filter,
          known,
        ),
    };
  }

  /** One eth_getLogs call, its arguments checked and its answer validated. */
  private logsCall(filter: LogFilter): Call {
    blockNumberArg(filter.fromBlock, "getLogs fromBlock");
    blockNumberArg(filter.toBlock, "getLogs toBlock");
    if (filter.toBlock < filter.fromBlock) {
      throw new FatalError(
        `getLogs: toBlock ${filter.toBlock} is before fromBlock ${filter.fromBlock}`,
        { category: "bad_input" },
      );
    }
    const params: Record<string, unknown> = {
      fromBlock: toHexQuantity(filter.fromBlock),
      toBlock: toHexQuantity(filter.toBlock),
    };
    if (filter.address !== undefined) params.address = filter.address;
    if (filter.topics !== undefined) params.topics = filter.topics;
    return {
      method: "eth_getLogs",
      params: [params],
      validate: (r) => validateLogs(r, filter, (n) => this.knownHashes.get(n)),
      splittable: filter.fromBlock < filter.toBlock,
    };
  }

  stats(): RpcStats {
    const now = performance.now();
    const byEndpoint: RpcStats["byEndpoint"] = {};
    for (const ep of this.endpoints) byEndpoint[ep.label] = ep.stats(now);
    return { ...this.counters, byEndpoint };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Destroy, not close: whoever closes the client has given up on what is still in flight
    // (an aborted task's prefetches, a stalled endpoint), and a graceful close would wait for
    // those requests — through their timeouts and retries — before returning.
    await this.agent.destroy();
  }

  // ---------------------------------------------------------------------------------------

  private blockOf(block: RpcBlock): number {
    if (!block || !isHexQuantity(block.number) || !Array.isArray(block.transactions)) {
      throw new FatalError(
        "getBlockReceipts needs a block from getBlocks (number and transactions)",
        {
          category: "bad_input",
        },
      );
    }
    return parseHexQuantity(block.number);
  }

  private async receiptsPerTransaction(
    block: RpcBlock,
    signal: AbortSignal | undefined,
  ): Promise<RpcReceipt[]> {
    this.counters.receiptFallbacks++;
    const hashes = blockTxHashes(block);
    for (let attempt = 1; ; attempt++) {
      const receipts = (await this.run(
        hashes.map((h, i) => ({
          method: "eth_getTransactionReceipt",
          params: [h],
          validate: (r: unknown) => validateReceipt(r, block, i, h),
        })),
        this.batchSize,
        signal,
      )) as RpcReceipt[];
      try {
        // Per-receipt checks passed; this adds the cross-receipt ones (log index order).
        return validateBlockReceipts(receipts, block);
      } catch (err) {
        if (!(err instanceof InvalidResponseError)) throw err;
        const where = `eth_getTransactionReceipt × ${hashes.length}`;
        if (attempt >= this.maxAttempts) {
          throw new FatalError(
            `persistent invalid response after ${attempt} attempts: ${where}: ${err.message}`,
            {
              category: "rpc_invalid_response",
              cause: err,
            },
          );
        }
        this.counters.retries++;
        await sleep(backoffDelay(attempt, this.backoff), signal);
        throwIfAborted(signal);
      }
    }
  }

  private someEndpointSupports(method: string): boolean {
    return this.endpoints.some((e) => !e.unsupported.has(method));
  }

  /** Cut calls into batches and run them concurrently (the semaphore bounds HTTP requests). */
  private async run(calls: Call[], size: number, signal?: AbortSignal): Promise<unknown[]> {
    if (calls.length <= size) return await this.execute(calls, signal);
    const parts: Promise<unknown[]>[] = [];
    for (let i = 0; i < calls.length; i += size)
      parts.push(this.execute(calls.slice(i, i + size), signal));
    return (await Promise.all(parts)).flat();
  }

  /**
   * Send one batch (≤ batch size) with retries. Only calls that failed are resent; fatal
   * answers end the whole batch at once.
   */
  private async execute(calls: Call[], signal?: AbortSignal): Promise<unknown[]> {
    if (this.closed) throw new FatalError("RpcClient is closed", { category: "closed" });
    throwIfAborted(signal);
    if (calls.length === 0) return [];
    const results: unknown[] = new Array(calls.length);
    const lastError: (Error | undefined)[] = new Array(calls.length);
    let pending = calls.map((_, i) => i);
    let attempt = 1;
    /** Single-call answers over maxResponseBytes so far (see below). */
    let tooLargeAnswers = 0;
    for (;;) {
      const methods = [...new Set(pending.map((i) => calls[i]!.method))];
      const ids = pending.map(() => this.nextId++);
      const payload = pending.map((i, k) => ({
        jsonrpc: "2.0",
        id: ids[k],
        method: calls[i]!.method,
        params: calls[i]!.params,
      }));
      // A lone call goes as a plain object: some endpoints reject or mishandle batches.
      const body = JSON.stringify(payload.length === 1 ? payload[0] : payload);
      let response: unknown;
      let transportFailure: unknown;
      // The endpoint is chosen once a slot is free, so it reflects failures seen while queued.
      const ep = await this.acquireEndpoint(methods, signal);
      try {
        if (this.rateLimiter) await this.rateLimiter.take();
        this.counters.requests++;
        this.counters.calls += pending.length;
        response = await ep.post(body, describeCalls(calls, pending), signal, batchDecoder(calls));
      } catch (err) {
        transportFailure = err;
      } finally {
        this.semaphore.release();
      }
      // The caller gave up (its task was aborted): no retry, no verdict on the endpoint.
      throwIfAborted(signal);

      if (transportFailure instanceof NotJsonRpcError) {
        // A misconfigured URL in a pool: leave that endpoint out and ask the others at once
        // (pickEndpoint throws this error once no endpoint is left).
        ep.broken = transportFailure;
        continue;
      }
      if (transportFailure instanceof ResponseTooLargeError) {
        // Resending the same request cannot fit: split it; a single call cannot be split.
        if (pending.length > 1) return await this.executeHalves(calls, pending, results, signal);
        const call = calls[pending[0]!]!;
        if (call.splittable) throw new LogRangeTooLargeError(transportFailure.message);
        // One endpoint of a pool may be the one sending garbage: each other one gets one try.
        if (++tooLargeAnswers < this.endpoints.filter((e) => e.broken === undefined).length)
          continue;
        throw transportFailure;
      }

      let failed = false;
      let onlyUnsupported = false;
      if (transportFailure !== undefined) {
        if (!(transportFailure instanceof RetryableError)) throw transportFailure;
        failed = true;
        ep.recordFailure(
          this.cooldown,
          transportFailure instanceof RateLimitedError ? transportFailure.retryAfterMs : undefined,
          transportFailure instanceof RateLimitedError,
        );
        for (const i of pending) lastError[i] = transportFailure;
      } else {
        const byId = indexResponse(response, payload.length === 1 ? ids[0] : undefined);
        const still: number[] = [];
        let unsupportedSeen = false;
        for (let k = 0; k < pending.length; k++) {
          const i = pending[k]!;
          const call = calls[i]!;
          const where = `${describeCall(call)} via ${ep.label}`;
          const item = byId.get(String(ids[k])) ?? byId.get("*");
          let problem: Error | undefined;
          if (item === undefined) {
            problem = new RetryableError(`${where}: missing from the batch response`, {
              category: "rpc_missing_item",
            });
          } else if (item.error !== undefined && item.error !== null) {
            const kind = classifyJsonRpcError(call.method, item.error);
            const detail = describeJsonRpcError(item.error);
            if (kind === "unsupported") {
              ep.unsupported.add(call.method);
              if (!call.optional) {
                throw new FatalError(`${where}: method not supported (${detail})`, {
                  category: "rpc_method_not_found",
                });
              }
              unsupportedSeen = true;
              problem = new MethodUnsupportedError(call.method, detail);
            } else if (kind === "fatal") {
              throw new FatalError(`${where}: ${detail}`, { category: "rpc_fatal_error" });
            } else if (kind === "too_large" && call.splittable) {
              throw new LogRangeTooLargeError(`${where}: ${detail}`);
            } else {
              problem = new RetryableError(`${where}: ${detail}`, { category: "rpc_error" });
            }
          } else if (!("result" in item)) {
            problem = new InvalidResponseError(`${where}: response has neither result nor error`);
          } else {
            try {
              results[i] = call.validate ? call.validate(item.result) : item.result;
            } catch (err) {
              if (!(err instanceof InvalidResponseError)) throw err;
              problem = new InvalidResponseError(`${where}: ${err.message}`);
            }
          }
          if (problem !== undefined) {
            lastError[i] = problem;
            still.push(i);
            if (!(problem instanceof MethodUnsupportedError)) failed = true;
          }
        }
        pending = still;
        onlyUnsupported = unsupportedSeen && !failed;
        if (failed) ep.recordFailure(this.cooldown);
        else ep.recordSuccess();
      }
      if (failed) this.counters.failures++;
      if (pending.length === 0) return results;
      // "Not supported here" is not a failed attempt: move on to another endpoint at once.
      if (onlyUnsupported) continue;
      if (attempt >= this.maxAttempts) throw this.giveUp(calls, pending, lastError, attempt);
      attempt++;
      this.counters.retries++;
      await sleep(backoffDelay(attempt - 1, this.backoff), signal);
      if (this.closed) throw new FatalError("RpcClient is closed", { category: "closed" });
      throwIfAborted(signal);
    }
  }

  /**
   * The `pending` calls (whose answer together was too large) as two batches, each retried and
   * split further on its own; their results fill `results`, which already holds the rest.
   */
  private async executeHalves(
    calls: Call[],
    pending: number[],
    results: unknown[],
    signal: AbortSignal | undefined,
  ): Promise<unknown[]> {
    const mid = Math.ceil(pending.length / 2);
    const halves = [pending.slice(0, mid), pending.slice(mid)];
    const answers = await Promise.all(
      halves.map((half) =>
        this.execute(
          half.map((i) => calls[i]!),
          signal,
        ),
      ),
    );
    halves.forEach((half, h) => {
      half.forEach((i, k) => {
        results[i] = answers[h]![k];
      });
    });
    return results;
  }

  private giveUp(
    calls: Call[],
    pending: number[],
    lastError: (Error | undefined)[],
    attempts: number,
  ): Error {
    const first = pending[0]!;
    const err = lastError[first];
    const more = pending.length > 1 ? ` (and ${pending.length - 1} more calls of the batch)` : "";
    if (err instanceof InvalidResponseError) {
      return new FatalError(
        `persistent invalid response after ${attempts} attempts: ${err.message}${more}`,
        {
          category: "rpc_invalid_response",
          cause: err,
        },
      );
    }
    if (err instanceof MethodUnsupportedError) return err;
    const message = err?.message ?? `${describeCall(calls[first]!)}: failed`;
    return new RetryableError(`${message}: gave up after ${attempts} attempts${more}`, {
      category: err instanceof TraceError ? err.category : "rpc_exhausted",
      cause: err,
    });
  }

  /** Take a concurrency slot and an endpoint; never holds a slot while waiting for a backoff. */
  private async acquireEndpoint(methods: string[], signal?: AbortSignal): Promise<Endpoint> {
    for (;;) {
      await this.semaphore.acquire(signal);
      let pick: { ep: Endpoint; waitMs: number };
      try {
        pick = this.pickEndpoint(methods);
      } catch (err) {
        this.semaphore.release();
        throw err;
      }
      if (pick.waitMs <= 0) return pick.ep;
      this.semaphore.release();
      await sleep(Math.min(pick.waitMs, MAX_ENDPOINT_WAIT_MS), signal);
      throwIfAborted(signal);
    }
  }

  /**
   * Round-robin over healthy endpoints that support the methods. When all are backed off, use
   * the one that reopens first; only wait for it when it is really down (Retry-After, or
   * several failures in a row), so one flaky answer does not stall the whole pool.
   */
  private pickEndpoint(methods: string[]): { ep: Endpoint; waitMs: number } {
    const usable = this.endpoints.filter((e) => e.broken === undefined);
    if (usable.length === 0) throw this.endpoints[0]!.broken!;
    const candidates = usable.filter((e) => !methods.some((m) => e.unsupported.has(m)));
    if (candidates.length === 0) {
      throw new MethodUnsupportedError(
        methods[0]!,
        "every endpoint answered that it does not support it",
      );
    }
    const now = performance.now();
    for (let k = 0; k < candidates.length; k++) {
      const ep = candidates[(this.roundRobin + k) % candidates.length]!;
      if (!ep.isOpen(now)) {
        this.roundRobin = (this.roundRobin + k + 1) % candidates.length;
        return { ep, waitMs: 0 };
      }
    }
    let soonest = candidates[0]!;
    for (const ep of candidates) if (ep.openUntil < soonest.openUntil) soonest = ep;
    return { ep: soonest, waitMs: soonest.hardUntil - now };
  }
}

/** A block of getTransactionBlocks: its transactions as columns, or as getBlocks gives them. */
export type TransactionBlock =
  | { block: RpcBlockHeader; txs: TxColumns; receipts: RpcReceipt[] | ReceiptColumns | null }
  | { block: RpcBlock; txs: undefined; receipts: RpcReceipt[] | ReceiptColumns | null };

// One function each, so that every call of a batch has the same decoder (batchDecoder).
const decodeFullBlocks = (body: Buffer) => decodeBlocksResponse(body, true);
const decodeHashBlocks = (body: Buffer) => decodeBlocksResponse(body, false);

/** The body decoder of a batch, when all its calls have the same one. */
function batchDecoder(calls: Call[]): ((body: Buffer) => unknown) | undefined {
  const decode = calls[0]?.decode;
  return decode && calls.every((c) => c.decode === decode) ? decode : undefined;
}

/** Logs validateLogs accepted, as columns. */
function logColumnsOf(logs: readonly RpcLog[]): LogColumns {
  const cols = LogColumns.fromJson(logs);
  if (cols === undefined)
    throw new FatalError("eth_getLogs: a block number or log index of 2^32 or more", {
      category: "invalid_rpc_response",
    });
  return cols;
}

/** Map response items by id; "*" holds a single error answering a whole batch. */
function indexResponse(response: unknown, singleId: number | undefined): Map<string, ResponseItem> {
  const map = new Map<string, ResponseItem>();
  const items = Array.isArray(response) ? response : [response];
  for (const item of items) {
    if (typeof item !== "object" || item === null) continue;
    const it = item as ResponseItem;
    if (it.id === undefined || it.id === null) {
      // An id-less error (e.g. rate limit) answers every call of the request.
      if (it.error !== undefined && it.error !== null) map.set("*", it);
      continue;
    }
    map.set(String(it.id), it);
  }
  if (singleId !== undefined && map.size === 0 && !Array.isArray(response))
    map.set("*", response as ResponseItem);
  return map;
}

function quantityResult(method: string): (r: unknown) => number {
  return (r) => {
    if (!isHexQuantity(r))
      throw new InvalidResponseError(
        `${method}: expected a hex quantity, got ${JSON.stringify(r)?.slice(0, 80)}`,
      );
    return parseHexQuantity(r);
  };
}

function describeCall(call: Call): string {
  const params = JSON.stringify(call.params) ?? "";
  const shown = params.length > 120 ? `${params.slice(0, 117)}...` : params;
  return `${call.method}(${shown.slice(1, -1)})`;
}

function describeCalls(calls: Call[], pending: number[]): string {
  if (pending.length === 1) return describeCall(calls[pending[0]!]!);
  const methods = [...new Set(pending.map((i) => calls[i]!.method))].join(", ");
  return `batch of ${pending.length} ${methods} calls (first ${describeCall(calls[pending[0]!]!)})`;
}

function delayRange(
  r: { baseMs: number; maxMs: number },
  name: string,
): { baseMs: number; maxMs: number } {
  if (!(r.baseMs >= 0) || !(r.maxMs >= r.baseMs) || !Number.isFinite(r.maxMs)) {
    throw new FatalError(`${name} needs 0 <= baseMs <= maxMs (finite)`, { category: "config" });
  }
  return { baseMs: r.baseMs, maxMs: r.maxMs };
}

function positiveInt(v: number, name: string): number {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new FatalError(`${name} must be a positive integer, got ${v}`, { category: "config" });
  }
  return v;
}

function blockNumberArg(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new FatalError(`${what}: block number must be a non-negative integer, got ${n}`, {
      category: "bad_input",
    });
  }
}
