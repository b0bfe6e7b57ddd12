/**
 * RPC client overhead: fetch the same full blocks + block receipts (a) through RpcClient
 * (batching, concurrency cap, retries bookkeeping, validation) and (b) raw: the same JSON-RPC
 * batches over the same undici keep-alive agent and concurrency, JSON.parse only. The devnet runs
 * in a child process (mainnet-sized blocks, all cached after a warm-up pass) so the server's CPU
 * does not compete with the client's event loop.
 *
 *   node --expose-gc --import tsx bench/rpc.ts [blocks=200] [rounds=3]
 */
import { spawn } from "node:child_process";
import { Agent, request } from "undici";
import { RpcClient } from "../src/rpc/client.ts";

const BLOCKS = Number(process.argv[2] ?? 200);
const ROUNDS = Number(process.argv[3] ?? 3);
const BATCH = 10;
const CONCURRENCY = 50;

async function startDevnetChild(): Promise<{ url: string; stop: () => void }> {
  const code = `
    const { startDevnet } = await import(${JSON.stringify(new URL("../src/devnet/server.ts", import.meta.url).href)});
    const d = await startDevnet({ chain: { seed: 1, length: ${BLOCKS + 10}, cacheBlocks: ${BLOCKS + 10} } });
    console.log(d.url);`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(d.toString().trim()));
    child.once("exit", (c) => reject(new Error(`devnet exited ${c}`)));
  });
  return { url, stop: () => child.kill() };
}

const hex = (n: number) => `0x${n.toString(16)}`;

async function raw(url: string, numbers: number[]): Promise<number> {
  const agent = new Agent({ connections: CONCURRENCY, pipelining: 1 });
  const bodies: string[] = [];
  for (let i = 0; i < numbers.length; i += BATCH) {
    const part = numbers.slice(i, i + BATCH);
    bodies.push(
      JSON.stringify(
        part.map((n, k) => ({
          jsonrpc: "2.0",
          id: k,
          method: "eth_getBlockByNumber",
          params: [hex(n), true],
        })),
      ),
    );
    bodies.push(
      JSON.stringify(
        part.map((n, k) => ({
          jsonrpc: "2.0",
          id: k,
          method: "eth_getBlockReceipts",
          params: [hex(n)],
        })),
      ),
    );
  }
  let next = 0;
  let items = 0;
  const kept: unknown[] = [];
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const res = await request(url, {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
        dispatcher: agent,
      });
      const parsed = JSON.parse(await res.body.text()) as unknown[];
      kept.push(parsed); // keep results alive like any caller would, so GC costs compare fairly
      items += parsed.length;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await agent.close();
  return items;
}

async function viaClient(url: string, numbers: number[]): Promise<number> {
  const client = new RpcClient({
    urls: [url],
    batchSize: 100,
    heavyBatchSize: BATCH,
    maxConcurrentRequests: CONCURRENCY,
  });
  const out = await client.getBlocksWithReceipts(numbers);
  await client.close();
  return out.length * 2;
}

/** The client's machinery without validation: batch() of the same calls. */
async function clientUnvalidated(url: string, numbers: number[]): Promise<number> {
  const client = new RpcClient({
    urls: [url],
    batchSize: BATCH,
    maxConcurrentRequests: CONCURRENCY,
  });
  const [blocks, receipts] = await Promise.all([
    client.batch(numbers.map((n) => ({ method: "eth_getBlockByNumber", params: [hex(n), true] }))),
    client.batch(numbers.map((n) => ({ method: "eth_getBlockReceipts", params: [hex(n)] }))),
  ]);
  await client.close();
  return blocks.length + receipts.length;
}

async function measure(name: string, fn: () => Promise<number>) {
  // Collect the previous run's garbage first so it is not billed to this one (--expose-gc).
  (globalThis as { gc?: () => void }).gc?.();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const items = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { name, ms, cpuMs: (cpu.user + cpu.system) / 1000, items };
}

const devnet = await startDevnetChild();
try {
  const numbers = Array.from({ length: BLOCKS }, (_, i) => i + 1);
  await raw(devnet.url, numbers); // warm the devnet's block cache
  const results: Record<string, { ms: number[]; cpuMs: number[] }> = {
    raw: { ms: [], cpuMs: [] },
    client: { ms: [], cpuMs: [] },
    unvalidated: { ms: [], cpuMs: [] },
  };
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of [
      ["raw", raw],
      ["client", viaClient],
      ["unvalidated", clientUnvalidated],
    ] as const) {
      const m = await measure(name, () => fn(devnet.url, numbers));
      if (m.items !== BLOCKS * 2)
        throw new Error(`${name}: ${m.items} items, expected ${BLOCKS * 2}`);
      results[name]!.ms.push(m.ms);
      results[name]!.cpuMs.push(m.cpuMs);
    }
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const rawMs = median(results.raw!.ms);
  const clientMs = median(results.client!.ms);
  const rawCpu = median(results.raw!.cpuMs);
  const clientCpu = median(results.client!.cpuMs);
  console.log(
    `blocks=${BLOCKS} (mainnet-sized: ~150 txs, ~300 logs each), heavy batch ${BATCH}, concurrency ${CONCURRENCY}, rounds=${ROUNDS} (medians)`,
  );
  console.log(
    `raw fetch + JSON.parse : ${rawMs.toFixed(0)} ms wall, ${(BLOCKS / (rawMs / 1000)).toFixed(0)} blocks/s, client-side CPU ${rawCpu.toFixed(0)} ms`,
  );
  console.log(
    `RpcClient (validated)  : ${clientMs.toFixed(0)} ms wall, ${(BLOCKS / (clientMs / 1000)).toFixed(0)} blocks/s, client-side CPU ${clientCpu.toFixed(0)} ms`,
  );
  const unMs = median(results.unvalidated!.ms);
  const unCpu = median(results.unvalidated!.cpuMs);
  console.log(
    `RpcClient.batch, no validation: ${unMs.toFixed(0)} ms wall, ${(BLOCKS / (unMs / 1000)).toFixed(0)} blocks/s, client-side CPU ${unCpu.toFixed(0)} ms`,
  );
  console.log(
    `ratio client/raw: wall ${(clientMs / rawMs).toFixed(3)}, CPU ${(clientCpu / rawCpu).toFixed(3)}`,
  );
  console.log(
    `peak RSS of the bench process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
  );
} finally {
  devnet.stop();
}
