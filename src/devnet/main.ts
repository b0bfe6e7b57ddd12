/**
 * Run the synthetic chain server as its own process (the benchmark uses it so the server gets
 * its own core; `trace devnet` can reuse it):
 *
 *   node --import tsx src/devnet/main.ts [--port 8545] [--seed 1] [--length 1000000]
 *     [--txs-per-block 150] [--logs-per-block 300] [--chain-id 31337] [--cache-blocks 32]
 *     [--latency-ms 0]
 *
 * `--latency-ms` holds every response that long, like a remote node's round trip.
 * Prints one JSON line `{"url": ...}` when listening; stops on SIGINT / SIGTERM.
 */
import { parseArgs } from "node:util";
import { startDevnet } from "./server.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    seed: { type: "string", default: "1" },
    length: { type: "string" },
    "txs-per-block": { type: "string" },
    "logs-per-block": { type: "string" },
    "chain-id": { type: "string" },
    "cache-blocks": { type: "string" },
    "latency-ms": { type: "string" },
  },
  strict: true,
});

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n))
    throw new Error(`--${name} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

const devnet = await startDevnet({
  port: int("port", values.port),
  latencyMs: int("latency-ms", values["latency-ms"]),
  chain: {
    seed: /^\d+$/.test(values.seed) ? Number(values.seed) : values.seed,
    length: int("length", values.length),
    txsPerBlock: int("txs-per-block", values["txs-per-block"]),
    logsPerBlock: int("logs-per-block", values["logs-per-block"]),
    chainId: int("chain-id", values["chain-id"]),
    cacheBlocks: int("cache-blocks", values["cache-blocks"]),
  },
});
process.stdout.write(`${JSON.stringify({ url: devnet.url, head: devnet.chain.head })}\n`);
const shutdown = () => {
  void devnet.stop().then(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
