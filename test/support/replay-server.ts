/**
 * A JSON-RPC server answering from real Ethereum mainnet recordings
 * (../shared/testdata/mainnet/recordings.jsonl.gz, recorded from Erigon).
 *
 * Recorded requests are answered verbatim (params are canonicalised first, so `0x0112A880`,
 * `0x112a880` and 18000000 name the same block). Beyond that it derives what the recordings
 * imply: `eth_getBlockByNumber(n, false)` from a recorded full block, receipts by tx hash from
 * recorded block receipts, and `eth_getLogs` from recorded block receipts. Anything it cannot
 * answer completely is a JSON-RPC error, never a silently partial or invented answer.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  JsonRpcError,
  type MethodHandler,
  RawJson,
  startJsonRpcServer,
} from "../../src/devnet/jsonrpc-server.ts";
import {
  type LogLike,
  logMatches,
  parseBlockNumber,
  parseBlockTag,
  parseBool,
  parseHash,
  parseLogFilter,
  resolveTag,
  toQuantity,
} from "../../src/devnet/params.ts";

export const RECORDINGS_PATH =
  process.env.TRACE_REPLAY_RECORDINGS ??
  join(import.meta.dirname, "../../../shared/testdata/mainnet/recordings.jsonl.gz");

/** Error code for "a valid request the recordings cannot answer". */
export const NOT_RECORDED = -32001;

export interface Recording {
  method: string;
  params: unknown[];
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export interface RunningReplayServer {
  url: string;
  /** The highest block number any non-empty recording refers to (what eth_blockNumber says). */
  head: number;
  stop(): Promise<void>;
}

type Json = Record<string, unknown>;

/** Parse the recordings file (one JSON object per line). */
export function readRecordings(path = RECORDINGS_PATH): Recording[] {
  const text = gunzipSync(readFileSync(path)).toString("utf8");
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Recording);
}

/** Canonical form of a hex string: lowercase, and short (quantity-sized) ones without leading zeros. */
function canonical(v: unknown): unknown {
  if (typeof v === "string" && /^0x[0-9a-f]+$/i.test(v)) {
    const lower = v.toLowerCase();
    return lower.length <= 18 ? toQuantity(BigInt(lower)) : lower;
  }
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return toQuantity(v);
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v === "object" && v !== null) {
    const out: Json = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Json)[k];
      if (x !== undefined) out[k] = canonical(x);
    }
    return out;
  }
  return v;
}

function trimTrailingNulls(params: unknown[]): unknown[] {
  let end = params.length;
  while (end > 0 && params[end - 1] == null) end--;
  return params.slice(0, end);
}

/** Matching key of a request: method plus params in a canonical form for that method. */
function requestKey(method: string, params: unknown[]): string {
  if (method === "eth_getLogs") {
    let f: ReturnType<typeof parseLogFilter>;
    try {
      f = parseLogFilter(params);
    } catch {
      // Not a valid filter: match it literally (it can only be a recorded error case).
      return JSON.stringify([method, canonical(params)]);
    }
    const sorted = (s: Set<string> | null) => (s === null ? null : [...s].sort());
    return JSON.stringify([
      method,
      typeof f.fromBlock === "number" ? toQuantity(f.fromBlock) : (f.fromBlock ?? null),
      typeof f.toBlock === "number" ? toQuantity(f.toBlock) : (f.toBlock ?? null),
      f.blockHash ?? null,
      sorted(f.addresses),
      f.topics.map(sorted),
    ]);
  }
  if (method === "debug_traceBlockByNumber") {
    // Only the tracer and its config change a tracer's output; struct-logger knobs do not.
    const opts = (params[1] ?? {}) as Json;
    const tracer = typeof opts.tracer === "string" ? opts.tracer : null;
    const config = tracer === null ? opts : (opts.tracerConfig ?? {});
    return JSON.stringify([method, canonical(params[0]), tracer, canonical(config)]);
  }
  return JSON.stringify([method, canonical(trimTrailingNulls(params))]);
}

function notRecorded(what: string): JsonRpcError {
  return new JsonRpcError(NOT_RECORDED, `replay: ${what} is not in the mainnet recordings`);
}

class ReplayIndex {
  readonly exact = new Map<string, Recording>();
  readonly fullBlocks = new Map<number, Json>();
  readonly hashBlocks = new Map<number, Json>();
  readonly receipts = new Map<number, Json[]>();
  readonly blockNumberByHash = new Map<string, number>();
  readonly receiptByTx = new Map<string, Json>();
  readonly rendered = new Map<string, RawJson>();
  head = 0;

  constructor(recordings: Recording[]) {
    for (const r of recordings) {
      this.exact.set(requestKey(r.method, r.params), r);
      if (r.result == null) continue;
      if (r.method !== "eth_getLogs" && r.params.length > 0) {
        const first = r.params[0];
        if (typeof first === "string" && first.length <= 18) {
          this.head = Math.max(this.head, parseBlockNumber(first, "recorded block"));
        }
      }
      if (r.method === "eth_getBlockByNumber") {
        const block = r.result as Json;
        const n = parseBlockNumber(block.number, "block number");
        (r.params[1] === true ? this.fullBlocks : this.hashBlocks).set(n, block);
        this.blockNumberByHash.set(String(block.hash).toLowerCase(), n);
      } else if (r.method === "eth_getBlockReceipts") {
        const list = r.result as Json[];
        const n = parseBlockNumber(r.params[0], "block number");
        this.receipts.set(n, list);
        for (const rc of list) {
          this.receiptByTx.set(String(rc.transactionHash).toLowerCase(), rc);
          this.blockNumberByHash.set(String(rc.blockHash).toLowerCase(), n);
        }
      } else if (r.method === "eth_getTransactionReceipt") {
        const rc = r.result as Json;
        this.receiptByTx.set(String(rc.transactionHash).toLowerCase(), rc);
      }
    }
  }

  /** Serialise once: recorded blocks are up to a megabyte of JSON. */
  raw(key: string, value: () => unknown): RawJson {
    let r = this.rendered.get(key);
    if (r === undefined) {
      r = new RawJson(JSON.stringify(value()));
      this.rendered.set(key, r);
    }
    return r;
  }

  verbatim(method: string, params: unknown[]): RawJson | undefined {
    const key = requestKey(method, params);
    const rec = this.exact.get(key);
    if (rec === undefined) return undefined;
    if (rec.error !== undefined)
      throw new JsonRpcError(rec.error.code, rec.error.message, rec.error.data);
    return this.raw(key, () => rec.result ?? null);
  }

  blockNumberOf(param: unknown, what: string): number {
    if (typeof param === "string" && param.length === 66) {
      const hash = parseHash(param, what);
      const n = this.blockNumberByHash.get(hash);
      if (n === undefined) throw notRecorded(`block ${hash}`);
      return n;
    }
    return resolveTag(parseBlockTag(param, what), this.head);
  }

  block(n: number, full: boolean): RawJson {
    const key = `block:${n}:${full}`;
    if (full) {
      const b = this.fullBlocks.get(n);
      if (b === undefined) throw notRecorded(`block ${n} with full transactions`);
      return this.raw(key, () => b);
    }
    const h = this.hashBlocks.get(n);
    if (h !== undefined) return this.raw(key, () => h);
    const b = this.fullBlocks.get(n);
    if (b === undefined) throw notRecorded(`block ${n}`);
    return this.raw(key, () => ({
      ...b,
      transactions: (b.transactions as Json[]).map((tx) => tx.hash),
    }));
  }

  logs(params: unknown[]): unknown {
    const f = parseLogFilter(params);
    let from: number;
    let to: number;
    if (f.blockHash !== undefined) {
      from = to = this.blockNumberOf(f.blockHash, "blockHash");
    } else {
      from = resolveTag(f.fromBlock ?? "latest", this.head);
      to = resolveTag(f.toBlock ?? "latest", this.head);
    }
    if (from > to)
      throw new JsonRpcError(-32000, `invalid block range: fromBlock ${from} > toBlock ${to}`);
    // Answer only when every block of the range has recorded receipts: a partial answer would
    // look exactly like a complete one to the client.
    for (let n = from; n <= to; n++) {
      if (!this.receipts.has(n)) {
        throw notRecorded(`receipts of block ${n} (needed to answer eth_getLogs ${from}..${to})`);
      }
    }
    const out: unknown[] = [];
    for (let n = from; n <= to; n++) {
      for (const rc of this.receipts.get(n)!) {
        for (const log of rc.logs as Json[]) {
          if (logMatches(log as unknown as LogLike, f)) out.push(log);
        }
      }
    }
    return out;
  }
}

let indexPromise: ReplayIndex | undefined;
function replayIndex(): ReplayIndex {
  indexPromise ??= new ReplayIndex(readRecordings());
  return indexPromise;
}

function handlers(ix: ReplayIndex): Record<string, MethodHandler<unknown>> {
  const withVerbatim =
    (method: string, derive: (params: unknown[]) => unknown): MethodHandler<unknown> =>
    (params) =>
      ix.verbatim(method, params) ?? derive(params);
  return {
    eth_chainId: () => "0x1",
    net_version: () => "1",
    eth_blockNumber: () => toQuantity(ix.head),
    eth_getBlockByNumber: withVerbatim("eth_getBlockByNumber", (p) =>
      ix.block(ix.blockNumberOf(p[0], "block number"), parseBool(p[1], "full transactions flag")),
    ),
    eth_getBlockByHash: (p) =>
      ix.block(
        ix.blockNumberOf(parseHash(p[0], "block hash"), "block hash"),
        parseBool(p[1], "full transactions flag"),
      ),
    eth_getBlockReceipts: withVerbatim("eth_getBlockReceipts", (p) => {
      const n = ix.blockNumberOf(p[0], "block");
      const list = ix.receipts.get(n);
      if (list === undefined) throw notRecorded(`receipts of block ${n}`);
      return ix.raw(`receipts:${n}`, () => list);
    }),
    eth_getTransactionReceipt: withVerbatim("eth_getTransactionReceipt", (p) => {
      const hash = parseHash(p[0], "transaction hash");
      const rc = ix.receiptByTx.get(hash);
      if (rc === undefined) throw notRecorded(`receipt of ${hash}`);
      return rc;
    }),
    eth_getLogs: withVerbatim("eth_getLogs", (p) => ix.logs(p)),
    trace_block: withVerbatim("trace_block", (p) => {
      throw notRecorded(`trace_block ${JSON.stringify(p)}`);
    }),
    debug_traceBlockByNumber: withVerbatim("debug_traceBlockByNumber", (p) => {
      throw notRecorded(`debug_traceBlockByNumber ${JSON.stringify(p)}`);
    }),
  };
}

/** Start a replay server on 127.0.0.1 (a free port unless one is given). */
export async function startReplayServer(
  opts: { port?: number } = {},
): Promise<RunningReplayServer> {
  const ix = replayIndex();
  const table = handlers(ix);
  const srv = await startJsonRpcServer<unknown>({
    port: opts.port,
    resolve: (method) => (Object.hasOwn(table, method) ? table[method] : undefined),
  });
  return { url: srv.url, head: ix.head, stop: srv.stop };
}
