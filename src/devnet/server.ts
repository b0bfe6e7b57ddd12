/**
 * The synthetic chain served over JSON-RPC on 127.0.0.1, with deterministic fault injection for
 * reliability tests of the RPC client and the extraction pipeline.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type ChainOptions, SyntheticChain } from "./chain.ts";
import {
  invalidParams,
  JsonRpcError,
  type MethodHandler,
  RawJson,
  startJsonRpcServer,
} from "./jsonrpc-server.ts";
import {
  isHash,
  parseBlockTag,
  parseBool,
  parseHash,
  parseLogFilter,
  resolveTag,
  toQuantity,
} from "./params.ts";
import { hashString, Rng } from "./prng.ts";
import { callTracerBlock, parityTraceBlock } from "./traces.ts";

export type FaultKind =
  | "http429"
  | "http500"
  | "timeout"
  | "truncated"
  | "wrong_block"
  | "rpc_error";
export const FAULT_KINDS: readonly FaultKind[] = [
  "http429",
  "http500",
  "timeout",
  "truncated",
  "wrong_block",
  "rpc_error",
];

/**
 * Faults are decided per HTTP request from (seed, request sequence number), so the same request
 * sequence always meets the same faults. The sequence restarts whenever faults are (re)set.
 */
export interface FaultConfig {
  /** Probability that a request meets a fault, 0..1. */
  rate: number;
  seed?: number;
  /** Kinds to draw from, uniformly. Default: all. */
  kinds?: FaultKind[];
  /** How long a "timeout" request hangs before the server drops the connection. Default 30 s. */
  hangMs?: number;
  /** Retry-After seconds sent with 429. Default 1. */
  retryAfterSeconds?: number;
}

/** Persistent garbage: always wrong for the given blocks, whatever the fault rate. */
export interface CorruptConfig {
  /** Receipts of these blocks (eth_getBlockReceipts and eth_getTransactionReceipt) carry a wrong blockHash. */
  receiptsBlockHashFor?: number[];
}

export interface DevnetOptions {
  chain?: SyntheticChain | ChainOptions;
  /** 0 or omitted: a free port. Always 127.0.0.1. */
  port?: number;
  faults?: FaultConfig;
  corrupt?: CorruptConfig;
  /** Answer eth_getBlockReceipts with "method not found" (to test per-tx receipt fallbacks). */
  disableBlockReceipts?: boolean;
  /** eth_getLogs over more blocks than this is refused with a "limit exceeded" error. */
  maxLogsBlockRange?: number;
  /** Milliseconds each answered HTTP request waits before its response (a remote node). */
  latencyMs?: number;
}

export interface DevnetStats {
  /** HTTP requests received. */
  requests: number;
  /** JSON-RPC calls answered (batch members counted one by one). */
  calls: number;
  /** HTTP requests that met a fault. */
  faultsInjected: number;
  faultsByKind: Record<FaultKind, number>;
  callsByMethod: Record<string, number>;
}

export interface Devnet {
  url: string;
  chain: SyntheticChain;
  setFaults(f: FaultConfig | undefined): void;
  setCorrupt(c: CorruptConfig | undefined): void;
  stats(): DevnetStats;
  stop(): Promise<void>;
}

/** Error code of the injected "limit exceeded" error (the one Infura and others use). */
export const LIMIT_EXCEEDED = -32005;

interface RequestCtx {
  fault: FaultKind | undefined;
}

function checkFaults(f: FaultConfig | undefined): FaultConfig | undefined {
  if (f === undefined) return undefined;
  if (!(f.rate >= 0 && f.rate <= 1))
    throw new RangeError(`fault rate must be within 0..1, got ${f.rate}`);
  for (const k of f.kinds ?? []) {
    if (!FAULT_KINDS.includes(k)) throw new RangeError(`unknown fault kind ${JSON.stringify(k)}`);
  }
  if (f.kinds !== undefined && f.kinds.length === 0)
    throw new RangeError("fault kinds must not be empty");
  return f;
}

export async function startDevnet(opts: DevnetOptions = {}): Promise<Devnet> {
  const chain = opts.chain instanceof SyntheticChain ? opts.chain : new SyntheticChain(opts.chain);
  let faults = checkFaults(opts.faults);
  let faultSeq = 0;
  let corruptReceipts = new Set(opts.corrupt?.receiptsBlockHashFor ?? []);
  const stats: DevnetStats = {
    requests: 0,
    calls: 0,
    faultsInjected: 0,
    faultsByKind: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
    callsByMethod: {},
  };
  const hanging = new Set<NodeJS.Timeout>();

  function drawFault(): FaultKind | undefined {
    if (faults === undefined || faults.rate === 0) return undefined;
    const r = new Rng(hashString(`faults:${faults.seed ?? 0}`), faultSeq++);
    if (r.float() >= faults.rate) return undefined;
    const kinds = faults.kinds ?? FAULT_KINDS;
    return kinds[r.int(kinds.length)];
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): RequestCtx | null {
    stats.requests++;
    const fault = drawFault();
    if (fault === undefined) return { fault };
    stats.faultsInjected++;
    stats.faultsByKind[fault]++;
    switch (fault) {
      case "http429":
        res.writeHead(429, {
          "content-type": "application/json",
          "retry-after": String(faults?.retryAfterSeconds ?? 1),
        });
        res.end(
          '{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"too many requests"}}',
        );
        return null;
      case "http500":
        res.writeHead(500, { "content-type": "text/plain" });
        res.end("internal server error\n");
        return null;
      case "timeout": {
        // Never answer; drop the connection after a bound so nothing hangs forever.
        const timer = setTimeout(() => {
          hanging.delete(timer);
          res.destroy();
        }, faults?.hangMs ?? 30_000);
        hanging.add(timer);
        req.socket.once("close", () => {
          clearTimeout(timer);
          hanging.delete(timer);
        });
        return null;
      }
      default:
        return { fault };
    }
  }

  /** Block number a request names, shifted when a wrong_block fault is active. */
  function pick(n: number, ctx: RequestCtx): number {
    if (ctx.fault !== "wrong_block") return n;
    return chain.has(n + 1) ? n + 1 : Math.max(0, n - 1);
  }

  function blockOf(param: unknown, what: string): number | null {
    if (isHash(param)) return chain.locateBlock(param) ?? null;
    return resolveTag(parseBlockTag(param, what), chain.head);
  }

  function receiptsOf(n: number, bytes: Buffer): Buffer {
    if (!corruptReceipts.has(n)) return bytes;
    const right = chain.blockHash(n);
    const wrong = `0x${right.slice(2, 4) === "ff" ? "00" : "ff"}${right.slice(4)}`;
    return Buffer.from(
      bytes.toString("latin1").replaceAll(`"blockHash":"${right}"`, `"blockHash":"${wrong}"`),
      "latin1",
    );
  }

  const raw = (b: Buffer | null) => (b === null ? null : new RawJson(b));

  const table: Record<string, MethodHandler<RequestCtx>> = {
    eth_chainId: () => toQuantity(chain.chainId),
    net_version: () => String(chain.chainId),
    eth_blockNumber: () => toQuantity(chain.head),
    eth_getBlockByNumber: (p, ctx) => {
      const n = resolveTag(parseBlockTag(p[0], "block number"), chain.head);
      return raw(chain.blockBytes(pick(n, ctx), parseBool(p[1], "full transactions flag")));
    },
    eth_getBlockByHash: (p, ctx) => {
      const n = chain.locateBlock(parseHash(p[0], "block hash"));
      const full = parseBool(p[1], "full transactions flag");
      return n === undefined ? null : raw(chain.blockBytes(pick(n, ctx), full));
    },
    eth_getBlockReceipts: (p, ctx) => {
      const n0 = blockOf(p[0], "block");
      if (n0 === null) return null;
      const n = pick(n0, ctx);
      const bytes = chain.receiptsBytes(n);
      return bytes === null ? null : new RawJson(receiptsOf(n, bytes));
    },
    eth_getTransactionReceipt: (p) => {
      const hash = parseHash(p[0], "transaction hash");
      const bytes = chain.transactionReceiptBytes(hash);
      if (bytes === null) return null;
      return new RawJson(receiptsOf(chain.locateTx(hash)!.blockNumber, bytes));
    },
    eth_getTransactionByHash: (p) =>
      raw(chain.transactionBytes(parseHash(p[0], "transaction hash"))),
    eth_getLogs: (p, ctx) => {
      const f = parseLogFilter(p);
      let from: number;
      let to: number;
      if (f.blockHash !== undefined) {
        const n = chain.locateBlock(f.blockHash);
        if (n === undefined) throw new JsonRpcError(-32000, `unknown block ${f.blockHash}`);
        from = to = n;
      } else {
        from = resolveTag(f.fromBlock ?? "latest", chain.head);
        to = resolveTag(f.toBlock ?? "latest", chain.head);
      }
      if (from > to) throw new JsonRpcError(-32000, "invalid block range params");
      // Refuse rather than clamp: a clamped answer looks complete to the client.
      if (to > chain.head)
        throw new JsonRpcError(-32000, "block range extends beyond current head block");
      if (opts.maxLogsBlockRange !== undefined && to - from + 1 > opts.maxLogsBlockRange) {
        throw new JsonRpcError(
          LIMIT_EXCEEDED,
          `query exceeds max block range ${opts.maxLogsBlockRange}`,
        );
      }
      if (ctx.fault === "wrong_block" && to < chain.head) {
        from++;
        to++;
      }
      return new RawJson(chain.logsBytes(from, to, f));
    },
    trace_block: (p, ctx) => {
      const n = blockOf(p[0], "block");
      if (n === null || !chain.has(n)) return null;
      const m = pick(n, ctx);
      return parityTraceBlock(chain.block(m, true)!, chain.receipts(m)!);
    },
    debug_traceBlockByNumber: (p, ctx) => {
      const n = resolveTag(parseBlockTag(p[0], "block number"), chain.head);
      const config = p[1] as { tracer?: unknown } | undefined;
      // Only the call tracer is synthesised; the struct logger and other tracers would need an
      // EVM. Say so instead of answering with something that looks like a trace.
      if (config?.tracer !== "callTracer")
        throw invalidParams(
          `tracer ${JSON.stringify(config?.tracer ?? "structLogger")} is not supported by the devnet (use "callTracer")`,
        );
      if (!chain.has(n)) throw new JsonRpcError(-32000, `block #${n} not found`);
      const m = pick(n, ctx);
      return callTracerBlock(chain.block(m, true)!, chain.receipts(m)!);
    },
  };
  if (opts.disableBlockReceipts) delete table.eth_getBlockReceipts;

  const limitExceeded: MethodHandler<RequestCtx> = () => {
    throw new JsonRpcError(LIMIT_EXCEEDED, "limit exceeded");
  };

  const srv = await startJsonRpcServer<RequestCtx>({
    port: opts.port,
    latencyMs: opts.latencyMs,
    onRequest,
    resolve: (method) => {
      const h = Object.hasOwn(table, method) ? table[method] : undefined;
      if (h === undefined) return undefined;
      return (params, ctx) => {
        stats.calls++;
        stats.callsByMethod[method] = (stats.callsByMethod[method] ?? 0) + 1;
        return ctx.fault === "rpc_error" ? limitExceeded(params, ctx) : h(params, ctx);
      };
    },
    // Cut the body in half: valid HTTP, invalid JSON.
    beforeSend: (body, ctx) =>
      ctx.fault === "truncated" ? body.subarray(0, Math.floor(body.length / 2)) : body,
  });

  return {
    url: srv.url,
    chain,
    setFaults(f) {
      faults = checkFaults(f);
      faultSeq = 0;
    },
    setCorrupt(c) {
      corruptReceipts = new Set(c?.receiptsBlockHashFor ?? []);
    },
    stats: () => structuredClone(stats),
    async stop() {
      for (const t of hanging) clearTimeout(t);
      hanging.clear();
      await srv.stop();
    },
  };
}
