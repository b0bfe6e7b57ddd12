/**
 * The extraction engine and `trace extract` against the synthetic chain: cryo options, chunking
 * and naming over a 2,500-block range, fault tolerance (byte-identical output under 10% injected
 * faults), persistent garbage failing its chunk without leaving a file, and the "no local
 * Parquet" guarantee for S3 output.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { type Dirent, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { classify } from "../src/core/errors.ts";
import { datasetUuid, datasetVersion, versionPrefix } from "../src/core/ids.ts";
import { type Devnet, startDevnet } from "../src/devnet/server.ts";
import { type DatasetOptions, extractRange, runExtraction } from "../src/extract/index.ts";
import { collectBytes } from "../src/parquet/encoder.ts";
import { testCompressors } from "../src/parquet/lz4-raw.ts";
import { RpcClient } from "../src/rpc/index.ts";
import { createArtifactSink, openObjectStore } from "../src/sink/index.ts";
import { nonOpenWrites, recordLocalWrites } from "./support/local-writes.ts";
import { testBucket } from "./support/s3.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const START = 10_000;
const END = 12_500; // exclusive: chunks 10000-10999, 11000-11999, 12000-12499
const CHAIN = {
  seed: 7,
  chainId: 31337,
  length: 20_000,
  txsPerBlock: 4,
  logsPerBlock: 6,
  jitter: 0.5,
};

let devnet: Devnet;
let out: string;
before(async () => {
  devnet = await startDevnet({ chain: CHAIN });
  out = mkdtempSync(join(tmpdir(), "trace-extract-syn-"));
});
after(async () => {
  await devnet?.stop();
  if (out) rmSync(out, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: rows are checked by value
type Row = Record<string, any>;
const ab = (b: Uint8Array) =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
async function readRows(path: string): Promise<Row[]> {
  return parquetReadObjects({
    file: ab(readFileSync(path)),
    utf8: false,
    compressors: testCompressors,
  });
}
function columnsOf(path: string): string[] {
  return parquetMetadata(ab(readFileSync(path)))
    .schema.slice(1)
    .map((s) => s.name);
}

async function cli(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs?: number,
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run(process.execPath, [join(root, "bin", "trace.js"), "extract", ...args], {
      cwd: root,
      env,
      timeout: timeoutMs,
    });
    return { ...r, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

const name = (ds: string, s: number, e: number) =>
  `network_31337__${ds}__${String(s).padStart(8, "0")}_to_${String(e).padStart(8, "0")}.parquet`;
const CHUNKS: [number, number][] = [
  [10_000, 10_999],
  [11_000, 11_999],
  [12_000, 12_499],
];

function expectedCounts(from: number, to: number) {
  let txs = 0;
  let logs = 0;
  for (let n = from; n <= to; n++) {
    const receipts = devnet.chain.receipts(n)!;
    txs += receipts.length;
    for (const r of receipts) logs += r.logs.length;
  }
  return { blocks: to - from + 1, transactions: txs, logs };
}

test("defaults: three datasets, 1000-block chunks named like cryo, row counts from the chain", async () => {
  const dir = join(out, "defaults");
  const r = await cli([
    "blocks",
    "txs",
    "events",
    "--rpc",
    devnet.url,
    "--blocks",
    `${START}:${END}`,
    "-o",
    dir,
    "--json",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { files: { key: string; rows: number }[] };
  const want = CHUNKS.flatMap(([s, e]) => {
    const c = expectedCounts(s, e);
    return (["blocks", "transactions", "logs"] as const).map((ds) => [name(ds, s, e), c[ds]]);
  }).sort();
  assert.deepEqual(summary.files.map((f) => [f.key, f.rows]).sort(), want);
  assert.deepEqual(readdirSync(dir).sort(), want.map(([n]) => n).sort());
  const txRows = await readRows(join(dir, name("transactions", 11_000, 11_999)));
  // Sorted by (block_number, transaction_index), block numbers within the chunk.
  for (let i = 1; i < txRows.length; i++) {
    const [a, b] = [txRows[i - 1]!, txRows[i]!];
    assert.ok(
      a.block_number < b.block_number ||
        (a.block_number === b.block_number && a.transaction_index < b.transaction_index),
    );
  }
  assert.equal(txRows[0]!.block_number, 11_000);
  assert.equal(txRows.at(-1)!.block_number, 11_999);
  assert.equal(txRows[0]!.chain_id, 31337n);

  // A second run skips every existing file (cryo without --overwrite) and writes nothing.
  const again = await cli([
    "blocks",
    "--rpc",
    devnet.url,
    "--blocks",
    `${START}:${END}`,
    "-o",
    dir,
    "--json",
  ]);
  assert.equal(again.code, 0, again.stderr);
  const s2 = JSON.parse(again.stdout) as { files: unknown[]; skipped: string[] };
  assert.equal(s2.files.length, 0);
  assert.equal(s2.skipped.length, 3);
});

test("--hex, --columns and --u256-types change types and columns, never the file order", async () => {
  const dir = join(out, "hex");
  const r = await cli([
    "transactions",
    "--rpc",
    devnet.url,
    "--blocks",
    `${START}:${END}`,
    "-o",
    dir,
    "--hex",
    "--columns",
    "value",
    "to_address",
    "transaction_hash",
    "block_number",
    "--u256-types",
    "u64",
    "string",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const file = join(dir, name("transactions", 12_000, 12_499));
  assert.deepEqual(columnsOf(file), [
    "block_number",
    "transaction_hash",
    "to_address",
    "value_string",
    "value_u64",
  ]);
  const rows = await readRows(file);
  const first = rows[0]!;
  const tx = devnet.chain.block(first.block_number, true)!.transactions[0];
  // UTF8 columns: hyparquet hands them back as strings.
  assert.equal(first.transaction_hash, tx.hash.toLowerCase());
  assert.match(first.transaction_hash, /^0x[0-9a-f]{64}$/);
  assert.equal(first.to_address, tx.to?.toLowerCase() ?? null);
  assert.equal(first.value_string, BigInt(tx.value).toString());
  assert.equal(first.value_u64, BigInt.asUintN(64, BigInt(tx.value)));
});

test("--exclude-columns removes columns from the defaults", async () => {
  const dir = join(out, "exclude");
  const r = await cli([
    "logs",
    "--rpc",
    devnet.url,
    "--blocks",
    `${START}:${START + 10}`,
    "-o",
    dir,
    "--exclude-columns",
    "data",
    "topic3",
    "chain_id",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(columnsOf(join(dir, name("logs", START, START + 9))), [
    "block_number",
    "transaction_index",
    "log_index",
    "transaction_hash",
    "address",
    "topic0",
    "topic1",
    "topic2",
    "n_data_bytes",
  ]);
});

test("usage errors exit 2 with a specific message", async () => {
  const bad = await cli(["logs", "--rpc", devnet.url, "--blocks", "10:5", "-o", join(out, "x")]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /the end is exclusive/);
  const col = await cli([
    "logs",
    "--rpc",
    devnet.url,
    "--blocks",
    "1:5",
    "-o",
    join(out, "x"),
    "--columns",
    "value",
  ]);
  assert.equal(col.code, 2);
  assert.match(col.stderr, /unknown column "value" for dataset logs/);
  const mem = await cli(["logs", "--rpc", devnet.url, "--blocks", "1:5", "-o", join(out, "x")], {
    ...process.env,
    TRACE_MEMORY: "small",
  });
  assert.equal(mem.code, 2);
  assert.match(mem.stderr, /invalid TRACE_MEMORY "small": expected "lean" \(the default\) or "v8"/);
});

// Node's own recursive mkdir spins forever under /proc (see src/core/dirs.ts); a regression
// would be killed by the timeout and fail the exit-code check.
test("an output folder that cannot be created fails at once, naming it", {
  skip: existsSync("/proc/self") ? false : "no procfs",
}, async () => {
  const r = await cli(
    ["blocks", "--rpc", devnet.url, "--blocks", "1:5", "-o", "/proc/trace-no-such/out"],
    process.env,
    60_000,
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot create a directory here .*mkdir '\/proc\/trace-no-such'/);
  assert.match(r.stderr, /1 chunk\(s\) failed, 0 written/);
});

/** `trace extract` arguments for blocks 1..4 from `rpc` into `dir` (for nodes that never answer). */
const fewBlocksFrom = (rpc: string, dir: string) => [
  "blocks",
  "--rpc",
  rpc,
  "--blocks",
  "1:5",
  "-o",
  join(out, dir),
];

test("an --rpc nobody answers at is reported after the short start-up budget, not minutes", async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const { port } = closed.address() as AddressInfo;
  await new Promise((resolve) => closed.close(resolve)); // connections to it are now refused
  const args = fewBlocksFrom(`http://127.0.0.1:${port}`, "refused");
  const r = await cli(args, process.env, 60_000);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `eth_chainId\\(\\) via http://127\\.0\\.0\\.1:${port}: connection error \\(ECONNREFUSED\\): gave up after 4 attempts`,
    ),
  );
});

test("a range past the node's head is refused at once, naming both", async () => {
  // The devnet's chain has 20,000 blocks: 0..19999.
  const r = await cli([
    "blocks",
    "--rpc",
    devnet.url,
    "--blocks",
    "19990:20010",
    "-o",
    join(out, "head"),
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /--blocks 19990:20010 ends at block 20009, but the node's latest block is 19999 \(blocks 20000..20009 do not exist yet\)/,
  );
  assert.match(r.stderr, /\[fatal, range_beyond_head\]/);
  const dir = join(out, "head");
  assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], [], "nothing written");
});

test("--blocks a:latest and a: run through the node's latest block, like cryo", async () => {
  for (const range of ["19995:latest", "19995:"]) {
    const r = await cli([
      "blocks",
      "--rpc",
      devnet.url,
      "--blocks",
      range,
      "-o",
      join(out, "latest"),
      "--json",
      "--overwrite",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const files = (JSON.parse(r.stdout) as CliSummary).files;
    assert.deepEqual(
      files.map((f) => [f.key, f.rows]),
      [[name("blocks", 19_995, 19_999), 5]],
      range,
    );
  }
  const after = await cli([
    "blocks",
    "--rpc",
    devnet.url,
    "--blocks",
    "20000:latest",
    "-o",
    join(out, "latest"),
  ]);
  assert.equal(after.code, 1);
  assert.match(after.stderr, /--blocks 20000:latest starts after the node's latest block 19999/);
});

/** `trace extract <dataset>` over `range` into `dir` (add `--json` etc. after). */
const extractArgs = (dataset: string, range: string, dir: string) => [
  dataset,
  "--rpc",
  devnet.url,
  "--blocks",
  range,
  "-o",
  join(out, dir),
];

/** Runs an extraction that writes one file; its sha256 from the JSON summary. */
async function onlyFileSha(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const r = await cli([...args, "--json"], env);
  assert.equal(r.code, 0, r.stderr);
  const files = (JSON.parse(r.stdout) as { files: { sha256: string }[] }).files;
  assert.equal(files.length, 1);
  return files[0]!.sha256;
}

test("--max-blocks-in-flight: a smaller fetch window writes the same bytes; 0 is a usage error", async () => {
  const range = `${START}:${START + 30}`;
  const wide = await onlyFileSha(extractArgs("logs", range, "window-default"));
  const narrow = await onlyFileSha([
    ...extractArgs("logs", range, "window-10"),
    "--max-blocks-in-flight",
    "10",
  ]);
  assert.equal(wide, narrow);
  const zero = await cli([
    ...extractArgs("logs", range, "window-0"),
    "--max-blocks-in-flight",
    "0",
  ]);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /max-blocks-in-flight/);
});

test("--max-response-bytes: answers over the limit are fetched in smaller parts, same bytes", async () => {
  const range = `${START}:${START + 30}`;
  // 16 KB takes one block's answer (at most ~12 KB here) but not a batch of ten, nor ten
  // blocks of logs in one call (~40 KB).
  for (const [dataset, extra] of [
    ["transactions", []],
    ["logs", ["--inner-request-size", "10"]],
  ] as const) {
    const whole = await onlyFileSha([...extractArgs(dataset, range, `size-${dataset}`), ...extra]);
    const parts = await onlyFileSha([
      ...extractArgs(dataset, range, `size-${dataset}-16k`),
      ...extra,
      "--max-response-bytes",
      "16000",
    ]);
    assert.equal(whole, parts, dataset);
  }
  const zero = await cli([...extractArgs("logs", range, "size-0"), "--max-response-bytes", "0"]);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /max-response-bytes/);
});

test("--inner-request-size changes the eth_getLogs calls, not the file", async () => {
  const range = `${START}:${START + 100}`;
  const calls = () => devnet.stats().callsByMethod.eth_getLogs ?? 0;
  let before = calls();
  const one = await onlyFileSha(extractArgs("logs", range, "inner-1"));
  assert.equal(calls() - before, 100);
  before = calls();
  const fifty = await onlyFileSha([
    ...extractArgs("logs", range, "inner-50"),
    "--inner-request-size",
    "50",
  ]);
  assert.equal(calls() - before, 2);
  assert.equal(one, fifty);
});

test("logs, receipts, blocks and transactions decoded from the response bytes: the same files as through JSON.parse", async () => {
  const client = new RpcClient({ urls: [devnet.url] });
  let columnarCalls = 0;
  // The same client; one view of it without the columnar methods, which makes the datasets
  // use JSON.parse and validate.ts.
  const viaJson = {
    getBlocks: client.getBlocks.bind(client),
    getBlocksWithReceipts: client.getBlocksWithReceipts.bind(client),
    getLogsMany: client.getLogsMany.bind(client),
  };
  const viaBytes = {
    ...viaJson,
    getLogsColumnar: (...args: Parameters<RpcClient["getLogsColumnar"]>) => {
      columnarCalls++;
      return client.getLogsColumnar(...args);
    },
    getBlocksWithReceiptColumns: (
      ...args: Parameters<RpcClient["getBlocksWithReceiptColumns"]>
    ) => {
      columnarCalls++;
      return client.getBlocksWithReceiptColumns(...args);
    },
    getBlockHeaders: (...args: Parameters<RpcClient["getBlockHeaders"]>) => {
      columnarCalls++;
      return client.getBlockHeaders(...args);
    },
    getTransactionBlocks: async (...args: Parameters<RpcClient["getTransactionBlocks"]>) => {
      const blocks = await client.getTransactionBlocks(...args);
      // Counted only when the transactions did come as columns (not the JSON fallback).
      if (blocks.some((b) => b.txs !== undefined)) columnarCalls++;
      return blocks;
    },
  };
  const sha = async (rpc: typeof viaJson, dataset: string, options: DatasetOptions) => {
    const sums: string[] = [];
    await runExtraction({
      rpc,
      dataset,
      chainId: 31337,
      range: [START, START + 150],
      options: { chunkSize: 100, ...options },
      write: async (name, body) => {
        const bytes = await collectBytes(body);
        sums.push(createHash("sha256").update(bytes).digest("hex"));
        return { key: name, size: bytes.length, sha256: sums.at(-1) as string };
      },
    });
    return sums;
  };
  try {
    const variants: [string, DatasetOptions][] = [
      ["logs", {}],
      ["logs", { hex: true }],
      ["logs", { columns: ["all"] }],
      ["logs", { columns: ["topic3", "data", "n_data_bytes"], hex: true }],
      ["logs", { innerRequestSize: 7 }],
      ["transactions", {}],
      ["transactions", { columns: ["all"], hex: true }],
      ["transactions", { columns: ["success", "gas_used"] }],
      [
        "transactions",
        {
          columns: ["transaction_hash", "value", "n_rlp_bytes", "r", "s", "v", "gas_price"],
          u256Types: ["binary", "string", "f32", "f64", "u32", "u64"],
        },
      ],
      ["transactions", { columns: ["all"], excludeColumns: ["gas_used", "success"], hex: true }],
      ["blocks", {}],
      ["blocks", { columns: ["all"], hex: true }],
    ];
    for (const [dataset, options] of variants) {
      const what = `${dataset} ${JSON.stringify(options)}`;
      const before = columnarCalls;
      const bytes = await sha(viaBytes, dataset, options);
      assert.ok(columnarCalls > before, `columnar method used for ${what}`);
      assert.deepEqual(bytes, await sha(viaJson, dataset, options), what);
      assert.equal(bytes.length, 2);
    }
  } finally {
    await client.close();
  }
});

test("TRACE_MEMORY=lean (V8 collects sooner) writes the same bytes as the default", async () => {
  const range = `${START}:${START + 20}`;
  const sums: string[] = [];
  for (const mode of ["default", "lean"]) {
    const args = extractArgs("transactions", range, `memory-${mode}`);
    sums.push(await onlyFileSha(args, { ...process.env, TRACE_MEMORY: mode }));
  }
  assert.equal(sums[0], sums[1]);
});

async function extractAll(rpc: RpcClient, range: [number, number]): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const dataset of ["blocks", "transactions", "logs"]) {
    await runExtraction({
      rpc,
      dataset,
      chainId: 31337,
      range,
      options: { chunkSize: 100 },
      write: async (n, body) => {
        const bytes = await collectBytes(body);
        const sha256 = createHash("sha256").update(bytes).digest("hex");
        hashes.set(n, sha256);
        return { key: n, size: bytes.length, sha256 };
      },
    });
  }
  return hashes;
}

test("10% injected faults (429, 500, timeouts, truncated JSON, wrong block) give byte-identical files", async () => {
  const range: [number, number] = [START, START + 300];
  const clean = new RpcClient({ urls: [devnet.url] });
  const reference = await extractAll(clean, range);
  await clean.close();
  assert.equal(reference.size, 9);

  devnet.setFaults({ rate: 0.1, seed: 3, hangMs: 1500 });
  const flaky = new RpcClient({
    urls: [devnet.url],
    batchSize: 10,
    requestTimeoutMs: 500,
    maxAttempts: 20,
    backoff: { baseMs: 5, maxMs: 50 },
  });
  try {
    const got = await extractAll(flaky, range);
    const stats = devnet.stats();
    assert.ok(stats.faultsInjected >= 5, `only ${stats.faultsInjected} faults injected`);
    assert.ok(
      Object.values(stats.faultsByKind).filter((n) => n > 0).length >= 4,
      JSON.stringify(stats.faultsByKind),
    );
    assert.deepEqual([...got.entries()].sort(), [...reference.entries()].sort());
  } finally {
    devnet.setFaults(undefined);
    await flaky.close();
  }
});

const sinkFor = (storeUrl: string, range: [number, number], env?: NodeJS.ProcessEnv) => {
  const store = openObjectStore(storeUrl, env ? { env } : {});
  const uuid = datasetUuid("00000000-0000-4000-8000-000000000001", 31337, "transactions");
  const version = datasetVersion(uuid, "cfg", 31337, range[0], range[1]);
  const prefix = versionPrefix({
    chainId: 31337,
    datasetUuid: uuid,
    rangeStart: range[0],
    rangeEnd: range[1],
    datasetVersion: version,
  });
  return {
    store,
    prefix,
    sink: createArtifactSink({
      store,
      prefix,
      datasetUuid: uuid,
      datasetVersion: version,
      configHash: "cfg",
      rangeStart: range[0],
      rangeEnd: range[1],
    }),
  };
};

test("a receipt for the wrong block that persists fails its chunk clearly; no file for it exists", async () => {
  devnet.setCorrupt({ receiptsBlockHashFor: [11_500] });
  const rpc = new RpcClient({
    urls: [devnet.url],
    maxAttempts: 3,
    backoff: { baseMs: 1, maxMs: 5 },
  });
  const dir = join(out, "garbage");
  const { store, prefix, sink } = sinkFor(dir, [START, END]);
  try {
    await assert.rejects(
      extractRange({ rpc, dataset: "transactions", chainId: 31337, range: [START, END], sink }),
      (e: Error) => {
        assert.match(
          e.message,
          /chunk network_31337__transactions__00011000_to_00011999\.parquet failed/,
        );
        assert.match(String((e.cause as Error)?.message), /11500|0x2cec|blockHash/i);
        assert.ok(["retryable", "fatal"].includes(classify(e)));
        return true;
      },
    );
    const keys = (await store.list(prefix)).map((o) => o.key);
    assert.ok(!keys.some((k) => k.includes("00011000_to_00011999")), keys.join(","));
    assert.deepEqual((await store.listIncomplete(prefix)).length, 0);
  } finally {
    devnet.setCorrupt(undefined);
    await sink.abort();
    await rpc.close();
    await store.close();
  }
});

interface CliSummary {
  files: { key: string; rows: number; sha256: string }[];
  skipped: string[];
  failed: { name: string; blocks: [number, number]; error: { message: string; class: string } }[];
}

test("trace extract: a chunk that keeps failing exits 1 naming it; the other chunks are written; a rerun completes", async () => {
  const dir = join(out, "cli-garbage");
  const args = ["transactions", "--rpc", devnet.url, "--blocks", `${START}:${END}`, "-o", dir];
  const bad = name("transactions", 11_000, 11_999);
  devnet.setCorrupt({ receiptsBlockHashFor: [11_500] });
  let first: Awaited<ReturnType<typeof cli>>;
  try {
    first = await cli([...args, "--json", "--max-retries", "2", "--initial-backoff", "1"]);
  } finally {
    devnet.setCorrupt(undefined);
  }
  assert.equal(first.code, 1, first.stderr);
  assert.match(first.stderr, new RegExp(`chunk ${bad.replaceAll(".", "\\.")} failed`));
  assert.match(first.stderr, /\[(retryable|fatal), rpc_invalid_response\]/);
  const s1 = JSON.parse(first.stdout) as CliSummary;
  assert.deepEqual(
    s1.failed.map((f) => [f.name, f.blocks]),
    [[bad, [11_000, 11_999]]],
  );
  assert.match(s1.failed[0]!.error.message, /11500|blockHash/i);
  const good = [name("transactions", 10_000, 10_999), name("transactions", 12_000, 12_499)];
  assert.deepEqual(s1.files.map((f) => f.key).sort(), good);
  // Nothing for the failed chunk at the destination, not even a temp file.
  assert.deepEqual(readdirSync(dir).sort(), good);

  // A rerun (cryo without --overwrite) skips what exists and writes only the missing chunk.
  const second = await cli([...args, "--json"]);
  assert.equal(second.code, 0, second.stderr);
  const s2 = JSON.parse(second.stdout) as CliSummary;
  assert.deepEqual(s2.skipped.sort(), good);
  assert.deepEqual(
    s2.files.map((f) => f.key),
    [bad],
  );
  assert.deepEqual(s2.failed, []);

  // --overwrite rewrites every file; the bytes are the same (deterministic output).
  const third = await cli([...args, "--json", "--overwrite"]);
  assert.equal(third.code, 0, third.stderr);
  const s3 = JSON.parse(third.stdout) as CliSummary;
  assert.deepEqual(s3.skipped, []);
  const sha = (s: CliSummary) => new Map(s.files.map((f) => [f.key, f.sha256]));
  const before = new Map([...sha(s1), ...sha(s2)]);
  assert.deepEqual([...sha(s3).entries()].sort(), [...before.entries()].sort());
  for (const f of s3.files) {
    const bytes = readFileSync(join(dir, f.key));
    assert.equal(createHash("sha256").update(bytes).digest("hex"), f.sha256);
  }
});

/** Files under the temp dir and cwd whose name is one of `names` or a sink/cryo temp name. */
function localFilesNamed(names: Set<string>): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name === "node_modules" || e.name === ".git") continue;
      const p = join(dir, e.name);
      if (e.isDirectory() && depth > 0) walk(p, depth - 1);
      else if (names.has(e.name) || /trace-tmp|_tmp$/.test(e.name)) found.push(p);
    }
  };
  walk(tmpdir(), 3);
  walk(root, 3);
  return found;
}

test("Ctrl-C while a silent node is asked for its chain id exits at once, not after the retries", async () => {
  // Accepts connections and never answers: eth_chainId would time out 4 × 10 s.
  const silent = createServer();
  const asked = new Promise((resolve) => silent.once("connection", resolve));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const { port } = silent.address() as AddressInfo;
  try {
    const child = spawn(
      process.execPath,
      [
        join(root, "bin", "trace.js"),
        "extract",
        ...fewBlocksFrom(`http://127.0.0.1:${port}`, "silent"),
      ],
      { cwd: root, stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr.resume();
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    // Once it asks, its interrupt handler is installed (before the first question).
    await asked;
    child.kill("SIGINT");
    // Far below the 40 s the start-up questions could take: the interrupt ended them.
    const code = await Promise.race([
      exited,
      new Promise<string>((r) => setTimeout(() => r("still running after 20 s"), 20_000)),
    ]);
    child.kill("SIGKILL");
    assert.equal(code, 130);
  } finally {
    silent.close();
  }
});

test("Ctrl-C stops trace extract cleanly: complete files only, reported; a rerun goes on", async () => {
  // Answers held 50 ms, so the six files take seconds and the signal lands mid-run.
  const slow = await startDevnet({ chain: CHAIN, latencyMs: 50 });
  const dir = join(out, "interrupted");
  const rest = ["--blocks", "0:6000", "-o", dir, "--json"];
  try {
    const child = spawn(
      process.execPath,
      [join(root, "bin", "trace.js"), "extract", "blocks", "--rpc", slow.url, ...rest],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    // Interrupt once the first file is complete (--json prints nothing before the end).
    const first = join(dir, name("blocks", 0, 999));
    while (!existsSync(first)) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGINT");
    assert.equal(await exited, 130, stderr);
    assert.match(
      stderr,
      /interrupted: \d+ file\(s\) written, 0 skipped; the file\(s\) in progress were discarded/,
    );
    const summary = JSON.parse(stdout) as CliSummary & { error: { category: string } };
    assert.equal(summary.error.category, "interrupted");
    const written = summary.files.map((f) => f.key).sort();
    assert.ok(written.length >= 1 && written.length < 6, `${written.length} files written`);
    // Exactly the reported files, complete (a valid footer), and no temporary file.
    assert.deepEqual(readdirSync(dir).sort(), written);
    for (const f of written) parquetMetadata(new Uint8Array(readFileSync(join(dir, f))).buffer);

    const rerun = await cli(["blocks", "--rpc", devnet.url, ...rest]);
    assert.equal(rerun.code, 0, rerun.stderr);
    const s2 = JSON.parse(rerun.stdout) as CliSummary;
    assert.deepEqual(s2.skipped.sort(), written);
    assert.equal(s2.files.length, 6 - written.length);
  } finally {
    await slow.stop();
  }
});

test("trace extract stops after 3 chunks in a row fail, listing what it did not attempt", async () => {
  const dir = join(out, "streak");
  const args = ["transactions", "--rpc", devnet.url, "--blocks", "13000:13100", "-c", "10"];
  // Garbage receipts in the first three 10-block chunks: each fails after its retries.
  devnet.setCorrupt({ receiptsBlockHashFor: [13_005, 13_015, 13_025] });
  let r: Awaited<ReturnType<typeof cli>>;
  try {
    r = await cli([...args, "-o", dir, "--json", "--max-retries", "1", "--initial-backoff", "1"]);
  } finally {
    devnet.setCorrupt(undefined);
  }
  assert.equal(r.code, 1, r.stderr);
  const s = JSON.parse(r.stdout) as CliSummary & { notAttempted: string[]; notStarted: string[] };
  assert.deepEqual(
    s.failed.map((f) => f.name),
    [0, 1, 2].map((i) => name("transactions", 13_000 + 10 * i, 13_009 + 10 * i)),
  );
  assert.deepEqual(s.files, []);
  assert.deepEqual(
    s.notAttempted,
    [3, 4, 5, 6, 7, 8, 9].map((i) => name("transactions", 13_000 + 10 * i, 13_009 + 10 * i)),
  );
  assert.match(
    r.stderr,
    /stopped: 3 chunks in a row failed, so the rest was not attempted \(7 chunk\(s\)\)/,
  );
  // A rerun with the node healthy again writes every chunk.
  const again = await cli([...args, "-o", dir, "--json"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as CliSummary).files.length, 10);
});

test("trace extract to s3:// uploads the files, prints them, and leaves nothing on local disk", async () => {
  const bucket = await testBucket("extract-cli-s3");
  // A range no other test here writes, so its file names are unique to this run.
  const files = [name("logs", 12_600, 12_604), name("logs", 12_605, 12_609)];
  const before = new Set(localFilesNamed(new Set(files)));
  const r = await run(
    process.execPath,
    [
      join(root, "bin", "trace.js"),
      "extract",
      "logs",
      "--rpc",
      devnet.url,
      "--blocks",
      "12600:12610",
      "--chunk-size",
      "5",
      "-o",
      `s3://${bucket.bucket}/cli/run`,
    ],
    { cwd: root, env: { ...process.env, ...bucket.env } },
  );
  // One line per file: key, rows, bytes, sha256.
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 2, r.stdout);
  const store = openObjectStore(`s3://${bucket.bucket}/cli/run`, {
    env: { ...process.env, ...bucket.env },
  });
  try {
    const objects = await store.list("");
    assert.deepEqual(objects.map((o) => basename(o.key)).sort(), files);
    for (const [i, line] of lines.entries()) {
      const m = /^(\S+) {2}rows=(\d+) bytes=(\d+) sha256=([0-9a-f]{64})$/.exec(line);
      assert.ok(m, line);
      assert.equal(basename(m[1]!), files[i]);
      assert.equal(Number(m[2]), expectedCounts(12_600 + 5 * i, 12_604 + 5 * i).logs);
      const body = await collectBytes((await store.get(m[1]!))!);
      assert.equal(body.length, Number(m[3]));
      assert.equal(createHash("sha256").update(body).digest("hex"), m[4]);
    }
  } finally {
    await store.close();
  }
  assert.deepEqual(
    localFilesNamed(new Set(files)).filter((p) => !before.has(p)),
    [],
  );
});

test("no local Parquet: an S3 extraction writes nothing to the local filesystem", async () => {
  const bucket = await testBucket("extract-nolocal");
  const rpc = new RpcClient({ urls: [devnet.url] });
  const range: [number, number] = [START, START + 2000];
  const { store, sink } = sinkFor(`s3://${bucket.bucket}/datasets`, range, {
    ...process.env,
    ...bucket.env,
  });
  let result: Awaited<ReturnType<typeof extractRange>>;
  let writes: string[];
  let created: string[];
  try {
    ({ result, writes, created } = await recordLocalWrites(async () => {
      const r = await extractRange({ rpc, dataset: "logs", chainId: 31337, range, sink });
      await sink.writeManifest();
      return r;
    }));
  } finally {
    await rpc.close();
  }
  // Only reads of code/data files may open paths; any write-mode open of a path is a failure.
  assert.deepEqual(nonOpenWrites(writes), []);
  assert.equal(result.files.length, 2);
  const objects = await store.list("");
  assert.ok(
    objects.some((o) => o.key.endsWith("network_31337__logs__00010000_to_00010999.parquet")),
  );
  assert.ok(objects.some((o) => o.key.endsWith("_manifest.json")));
  // No published file exists under the same name on local disk.
  const published = new Set(objects.map((o) => basename(o.key)));
  assert.deepEqual(
    created.filter((p) => published.has(basename(p))),
    [],
  );
  await store.close();
});
