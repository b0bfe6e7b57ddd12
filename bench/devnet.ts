/**
 * How fast does the synthetic chain server serve mainnet-sized blocks?
 *
 *   node --import tsx bench/devnet.ts [--blocks 5000] [--batch 20] [--concurrency 8]
 *
 * The server runs in its own process (src/devnet/main.ts) so it has a core to itself, as in an
 * extraction benchmark. The client sends JSON-RPC batches of `batch` blocks, each block asked
 * for with eth_getBlockByNumber(n, true) and eth_getBlockReceipts(n), `concurrency` batches in
 * flight over keep-alive connections. Four passes, each over blocks the server has not
 * generated yet (its cache is 32 blocks):
 *   1. light client: reads and counts the bytes, fully parses every 10th response to check it;
 *   2. parsing client: JSON.parse of every response, as a real extractor must;
 *   3. headers only: eth_getBlockByNumber(n, false), batches of `batch` blocks, all parsed;
 *   4. eth_getLogs over 10-block ranges (all logs, no filter), all parsed.
 * Server CPU time is read from /proc for each pass (Linux); client CPU from process.cpuUsage().
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { Agent, request } from "undici";

const { values } = parseArgs({
  options: {
    blocks: { type: "string", default: "5000" },
    batch: { type: "string", default: "20" },
    concurrency: { type: "string", default: "8" },
  },
});
const BLOCKS = Number(values.blocks);
const BATCH = Number(values.batch);
const CONCURRENCY = Number(values.concurrency);

const root = join(import.meta.dirname, "..");
const child = spawn(
  process.execPath,
  ["--import", "tsx", join(root, "src/devnet/main.ts"), "--seed", "bench"],
  {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const first = await new Promise<string>((resolve, reject) => {
  const rl = createInterface({ input: child.stdout! });
  rl.once("line", resolve);
  child.once("exit", (code) => reject(new Error(`devnet server exited with ${code}`)));
});
const { url } = JSON.parse(first) as { url: string };
const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 60_000 });

/** Server process CPU seconds (user + system), from /proc; NaN where unavailable. */
function serverCpuSeconds(): number {
  try {
    const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
  } catch {
    return Number.NaN;
  }
}

async function post(body: string): Promise<Buffer> {
  const res = await request(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
    dispatcher: agent,
  });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200)
    throw new Error(`HTTP ${res.statusCode}: ${bytes.toString().slice(0, 200)}`);
  return bytes;
}

interface Pass {
  name: string;
  units: number; // blocks covered
  requests: number;
  bytes: number;
  seconds: number;
  serverCpu: number;
  clientCpu: number;
}

async function runPass(
  name: string,
  start: number,
  makeBody: (from: number, to: number) => string,
  check: (body: Buffer, from: number, to: number, index: number) => void,
  step: number,
): Promise<Pass> {
  const ranges: Array<[number, number]> = [];
  for (let n = start; n < start + BLOCKS; n += step)
    ranges.push([n, Math.min(n + step, start + BLOCKS) - 1]);
  let next = 0;
  let bytes = 0;
  const cpu0 = serverCpuSeconds();
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ranges.length) {
        const i = next++;
        const [from, to] = ranges[i]!;
        const body = await post(makeBody(from, to));
        bytes += body.length;
        check(body, from, to, i);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(client0);
  return {
    name,
    units: BLOCKS,
    requests: ranges.length,
    bytes,
    seconds,
    serverCpu: serverCpuSeconds() - cpu0,
    clientCpu: (client.user + client.system) / 1e6,
  };
}

const blockBatch = (from: number, to: number): string => {
  const calls: string[] = [];
  for (let n = from; n <= to; n++) {
    const tag = `"0x${n.toString(16)}"`;
    calls.push(
      `{"jsonrpc":"2.0","id":${2 * n},"method":"eth_getBlockByNumber","params":[${tag},true]}`,
    );
    calls.push(
      `{"jsonrpc":"2.0","id":${2 * n + 1},"method":"eth_getBlockReceipts","params":[${tag}]}`,
    );
  }
  return `[${calls.join(",")}]`;
};

// biome-ignore lint/suspicious/noExplicitAny: node JSON checked by value
function checkBlocks(parsed: any[], from: number, to: number): void {
  if (parsed.length !== 2 * (to - from + 1))
    throw new Error(`expected ${2 * (to - from + 1)} answers`);
  for (const [k, a] of parsed.entries()) {
    const n = from + (k >> 1);
    if (a.error) throw new Error(`block ${n}: ${a.error.message}`);
    if (k % 2 === 0 && Number(a.result.number) !== n)
      throw new Error(`asked for ${n}, got ${a.result.number}`);
    if (k % 2 === 1 && a.result.length !== parsed[k - 1].result.transactions.length) {
      throw new Error(`block ${n}: receipts do not match transactions`);
    }
  }
}

const headersBatch = (from: number, to: number): string => {
  const calls: string[] = [];
  for (let n = from; n <= to; n++) {
    calls.push(
      `{"jsonrpc":"2.0","id":${n},"method":"eth_getBlockByNumber","params":["0x${n.toString(16)}",false]}`,
    );
  }
  return `[${calls.join(",")}]`;
};

const logsBody = (from: number, to: number): string =>
  `{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x${from.toString(16)}","toBlock":"0x${to.toString(16)}"}]}`;

// Warm up both processes' JIT on blocks outside the measured ranges.
await runPass("warm-up", 900_000, blockBatch, () => {}, BATCH).catch((e) => {
  child.kill();
  throw e;
});

let txs = 0;
let logs = 0;
const passes: Pass[] = [];
try {
  passes.push(
    await runPass(
      "blocks+receipts, light client",
      100_000,
      blockBatch,
      (body, from, to, i) => {
        if (i % 10 === 0) checkBlocks(JSON.parse(body.toString()), from, to);
      },
      BATCH,
    ),
  );
  passes.push(
    await runPass(
      "blocks+receipts, JSON.parse all",
      200_000,
      blockBatch,
      (body, from, to) => {
        const parsed = JSON.parse(body.toString());
        checkBlocks(parsed, from, to);
        for (const a of parsed) {
          if (Array.isArray(a.result)) for (const r of a.result) logs += r.logs.length;
          else txs += a.result.transactions.length;
        }
      },
      BATCH,
    ),
  );
  passes.push(
    await runPass(
      "headers only (false), JSON.parse all",
      250_000,
      headersBatch,
      (body, from, to) => {
        const parsed = JSON.parse(body.toString());
        if (parsed.length !== to - from + 1 || Number(parsed.at(-1).result.number) !== to) {
          throw new Error(`bad header batch ${from}..${to}`);
        }
      },
      BATCH,
    ),
  );
  passes.push(
    await runPass(
      "eth_getLogs 10-block ranges, JSON.parse all",
      300_000,
      logsBody,
      (body) => {
        const parsed = JSON.parse(body.toString());
        if (!Array.isArray(parsed.result))
          throw new Error(`eth_getLogs failed: ${body.toString().slice(0, 200)}`);
      },
      10,
    ),
  );
} finally {
  child.kill("SIGTERM");
  await agent.close();
}

console.log(
  `devnet benchmark: ${BLOCKS} blocks per pass, batch ${BATCH}, concurrency ${CONCURRENCY}, ` +
    `${cpus().length} cores, Node ${process.version}`,
);
console.log(
  `mainnet-sized blocks: ${(txs / BLOCKS).toFixed(1)} txs and ${(logs / BLOCKS).toFixed(1)} logs per block on average`,
);
for (const p of passes) {
  const server = Number.isNaN(p.serverCpu)
    ? "n/a"
    : `${((p.serverCpu / p.units) * 1e3).toFixed(2)} ms`;
  const perCpu = `CPU/block: server ${server}, client ${((p.clientCpu / p.units) * 1e3).toFixed(2)} ms`;
  console.log(
    `${p.name.padEnd(44)} ${(p.units / p.seconds).toFixed(0).padStart(6)} blocks/s  ` +
      `${(p.bytes / 1e6 / p.seconds).toFixed(1).padStart(6)} MB/s  ${(p.bytes / p.units / 1e3).toFixed(0)} KB/block  ` +
      `${p.requests} requests in ${p.seconds.toFixed(2)} s  ${perCpu}`,
  );
}
