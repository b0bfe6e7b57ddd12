/**
 * Test-only chains for the RPC client's tests: the real mainnet block 18,000,000 (block, full
 * transactions, receipts, logs) from the shared recordings, and a small deterministic synthetic
 * chain for tests that need many blocks. `answer()` serves the JSON-RPC methods the client uses.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { Answer, RpcCall } from "./fault-server.ts";

export interface ChainData {
  chainId: number;
  /** Full block (with transaction objects) by number. */
  block(n: number): Record<string, unknown> | undefined;
  receipts(n: number): Record<string, unknown>[] | undefined;
  head: number;
}

const RECORDINGS = join(
  import.meta.dirname,
  "../../../../shared/testdata/mainnet/recordings.jsonl.gz",
);

interface Recording {
  method: string;
  params: unknown[];
  result?: unknown;
  error?: unknown;
}

/** Mainnet block 18,000,000 and its receipts, as recorded from a real node. */
export function recordedChain(): ChainData {
  const lines = gunzipSync(readFileSync(RECORDINGS)).toString("utf8").trim().split("\n");
  const recs = lines.map((l) => JSON.parse(l) as Recording);
  const blocks = new Map<number, Record<string, unknown>>();
  const receipts = new Map<number, Record<string, unknown>[]>();
  for (const r of recs) {
    if (r.result === undefined || r.result === null) continue;
    if (r.method === "eth_getBlockByNumber" && r.params[1] === true) {
      const b = r.result as Record<string, unknown>;
      blocks.set(Number.parseInt(b.number as string, 16), b);
    }
    if (r.method === "eth_getBlockReceipts") {
      const rs = r.result as Record<string, unknown>[];
      if (rs.length > 0) receipts.set(Number.parseInt(rs[0]!.blockNumber as string, 16), rs);
    }
  }
  return {
    chainId: 1,
    head: 20_000_000,
    block: (n) => blocks.get(n),
    receipts: (n) => (blocks.has(n) ? receipts.get(n) : undefined),
  };
}

function h(...parts: (string | number)[]): string {
  return `0x${createHash("sha256").update(parts.join(":")).digest("hex")}`;
}
function addr(...parts: (string | number)[]): string {
  return h(...parts).slice(0, 42);
}
const hex = (n: number) => `0x${n.toString(16)}`;

/** Deterministic synthetic chain: block n has (n % 4) transactions, each with (i % 3) logs. */
export function syntheticChain(head = 10_000): ChainData {
  const block = (n: number): Record<string, unknown> | undefined => {
    if (n < 0 || n > head) return undefined;
    const hash = h("block", n);
    const txs = Array.from({ length: n % 4 }, (_, i) => ({
      hash: h("tx", n, i),
      blockHash: hash,
      blockNumber: hex(n),
      transactionIndex: hex(i),
      from: addr("from", n, i),
      to: i === 2 ? null : addr("to", n, i),
      nonce: hex(i),
      value: hex(n * 1000 + i),
      gas: hex(21000),
      gasPrice: hex(7),
      input: "0x",
      type: "0x0",
    }));
    return {
      number: hex(n),
      hash,
      parentHash: n === 0 ? `0x${"0".repeat(64)}` : h("block", n - 1),
      timestamp: hex(1_600_000_000 + n * 12),
      gasUsed: hex(21000 * txs.length),
      gasLimit: hex(30_000_000),
      miner: addr("miner", n),
      extraData: "0x",
      baseFeePerGas: hex(7),
      transactions: txs,
    };
  };
  const receipts = (n: number): Record<string, unknown>[] | undefined => {
    const b = block(n);
    if (!b) return undefined;
    let logIndex = 0;
    return (b.transactions as Record<string, unknown>[]).map((tx, i) => ({
      transactionHash: tx.hash,
      transactionIndex: hex(i),
      blockHash: b.hash,
      blockNumber: b.number,
      from: tx.from,
      to: tx.to,
      gasUsed: hex(21000),
      cumulativeGasUsed: hex(21000 * (i + 1)),
      effectiveGasPrice: hex(7),
      status: "0x1",
      type: "0x0",
      contractAddress: null,
      logs: Array.from({ length: i % 3 }, (_, j) => ({
        address: addr("log", n, i, j),
        topics: [h("topic", j)],
        data: "0x01",
        blockNumber: b.number,
        blockHash: b.hash,
        transactionHash: tx.hash,
        transactionIndex: hex(i),
        logIndex: hex(logIndex++),
        removed: false,
      })),
    }));
  };
  return { chainId: 31337, head, block, receipts };
}

const num = (v: unknown) => Number.parseInt(String(v), 16);

/** Serve the client's methods from a chain. */
export function answerFrom(chain: ChainData, opts: { noBlockReceipts?: boolean } = {}) {
  // Receipts by tx hash, learnt from the blocks served (clients fetch the block first).
  const byTxHash = new Map<string, unknown>();
  const learn = (n: number) => {
    for (const r of chain.receipts(n) ?? []) byTxHash.set(r.transactionHash as string, r);
  };
  return (call: RpcCall): Answer => {
    const p = call.params;
    switch (call.method) {
      case "eth_chainId":
        return { result: hex(chain.chainId) };
      case "eth_blockNumber":
        return { result: hex(chain.head) };
      case "eth_getBlockByNumber": {
        const b = chain.block(num(p[0]));
        if (!b) return { result: null };
        learn(num(p[0]));
        if (p[1] === true) return { result: b };
        return {
          result: { ...b, transactions: (b.transactions as { hash: string }[]).map((t) => t.hash) },
        };
      }
      case "eth_getBlockReceipts":
        if (opts.noBlockReceipts) {
          return {
            error: {
              code: -32601,
              message: "the method eth_getBlockReceipts does not exist/is not available",
            },
          };
        }
        return { result: chain.receipts(num(p[0])) ?? null };
      case "eth_getTransactionReceipt":
        return { result: byTxHash.get(String(p[0])) ?? null };
      case "eth_getLogs": {
        const f = p[0] as { fromBlock: string; toBlock: string };
        const out: unknown[] = [];
        for (let n = num(f.fromBlock); n <= num(f.toBlock); n++) {
          for (const r of chain.receipts(n) ?? []) out.push(...(r.logs as unknown[]));
        }
        return { result: out };
      }
      default:
        return {
          error: {
            code: -32601,
            message: `the method ${call.method} does not exist/is not available`,
          },
        };
    }
  };
}
