/**
 * The worker end to end in one process (real PostgreSQL, the dispatcher over HTTP, the S3 test
 * server, the synthetic chain): a sync of blocks / transactions / logs over 20 ranges each
 * publishes exactly one version per range whose manifest lists exactly the objects present and
 * whose Parquet equals a direct `trace extract`; with 10% RPC faults the output is identical.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { parquetReadObjects } from "hyparquet";
import { type Devnet, startDevnet } from "../src/devnet/server.ts";
import { testCompressors } from "../src/parquet/lz4-raw.ts";
import type { DatasetVersionRow } from "../src/state/index.ts";
import {
  chainSync,
  manifestAndListing,
  type PlannedRange,
  type Stack,
  settled,
  startStack,
  TEST_CHAIN,
  versionsOf,
} from "../src/worker/testing/stack.ts";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const DATASETS = ["blocks", "transactions", "logs"];
const FROM = 0;
const TO = 1_000;
const SIZE = 50; // 20 ranges per dataset

// Started at top level: helpers started inside a hook would be stopped when that hook ends.
const stack: Stack = await startStack({ label: "worker_sync" });
const faulty: Devnet = await startDevnet({
  chain: TEST_CHAIN,
  faults: { rate: 0.1, seed: 11, hangMs: 150 },
});
const cliOut = mkdtempSync(join(tmpdir(), "trace-worker-sync-"));
after(async () => {
  await faulty?.stop();
  if (cliOut) rmSync(cliOut, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: rows are compared by value
type Row = Record<string, any>;
const ab = (b: Uint8Array) =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const readRows = (bytes: Uint8Array): Promise<Row[]> =>
  parquetReadObjects({ file: ab(bytes), utf8: false, compressors: testCompressors });

async function objectBytes(key: string): Promise<Buffer> {
  return stack.store.getBytes(key, 64 * 1024 * 1024);
}

/** name → sha256 of every object of each range, keyed by `dataset:start-end`. */
async function outputsOf(
  ranges: PlannedRange[],
  versions: DatasetVersionRow[],
): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  for (const r of ranges) {
    const p = r.payload;
    const mine = versions.filter(
      (v) =>
        v.dataset_uuid === p.dataset_uuid &&
        v.range_start === p.range_start &&
        v.range_end === p.range_end,
    );
    assert.equal(mine.length, 1, `exactly one version for ${p.dataset_key} ${p.range_start}`);
    const { read, listed, prefix } = await manifestAndListing(stack, mine[0]!);
    // The manifest lists exactly the objects present (manifest itself aside).
    assert.deepEqual(
      read.objects.map((o) => o.name),
      listed.map((o) => o.key.slice(prefix.length)).filter((n) => n !== "_manifest.json"),
    );
    for (const o of read.objects) {
      const bytes = await objectBytes(prefix + o.name);
      assert.equal(bytes.length, o.size);
      assert.equal(createHash("sha256").update(bytes).digest("hex"), o.sha256);
    }
    out.set(
      `${p.dataset_key}:${p.range_start}-${p.range_end}`,
      new Map(read.objects.map((o) => [o.name, o.sha256])),
    );
  }
  return out;
}

let faultFree: Map<string, Map<string, string>>;

test("a chain_sync of blocks, transactions and logs over 20 ranges publishes each range exactly once, equal to `trace extract`", async () => {
  stack.worker({ concurrency: 4 });
  await stack.workers[0]!.start();
  const { status, ranges } = await chainSync(stack, {
    name: "fault_free",
    datasets: DATASETS,
    from: FROM,
    to: TO,
    size: SIZE,
  });
  assert.equal(ranges.length, 60);
  assert.deepEqual(
    status.streams.map((s) => [s.dataset_key, s.cursor, s.ranges.completed, s.ranges.failed]),
    [...DATASETS].sort().map((d) => [d, TO, 20, 0]),
  );
  const rows = await settled(
    stack.sql,
    ranges.map((r) => r.taskId),
  );
  assert.deepEqual(
    rows.map((r) => [r.status, r.attempt]),
    rows.map(() => ["completed", 1]),
  );
  const versions = await versionsOf(stack.sql, ranges);
  assert.equal(versions.length, 60);
  faultFree = await outputsOf(ranges, versions);

  // The same ranges through the `trace extract` command, into a folder.
  const { stderr } = await run(
    process.execPath,
    [
      join(root, "bin", "trace.js"),
      "extract",
      ...DATASETS,
      "--rpc",
      stack.devnet.url,
      "--blocks",
      `${FROM}:${TO}`,
      "--chunk-size",
      String(SIZE),
      "-o",
      cliOut,
    ],
    { cwd: root },
  );
  assert.equal(stderr, "");
  let compared = 0;
  for (const r of ranges) {
    const p = r.payload;
    const files = faultFree.get(`${p.dataset_key}:${p.range_start}-${p.range_end}`)!;
    assert.equal(files.size, 1);
    for (const [name, sha] of files) {
      const local = readFileSync(join(cliOut, name));
      assert.equal(
        createHash("sha256").update(local).digest("hex"),
        sha,
        `${name} is byte-identical`,
      );
      const v = (await versionsOf(stack.sql, [r])).find((x) => x.range_start === p.range_start)!;
      const { prefix } = await manifestAndListing(stack, v);
      assert.deepEqual(await readRows(await objectBytes(prefix + name)), await readRows(local));
      compared++;
    }
  }
  assert.equal(compared, 60);
});

test("with 10% RPC faults injected, the sync completes with output identical to a fault-free sync", async () => {
  assert.ok(faultFree, "runs after the fault-free sync");
  // Only workers that know the faulty pool may take these wake-ups.
  await Promise.all(stack.workers.map((w) => w.stop({ deadlineMs: 5_000 })));
  const w = stack.worker({
    concurrency: 4,
    env: { ...stack.env, TRACE_RPC_POOL_FAULTY_URL: faulty.url },
  });
  await w.start();
  const { ranges } = await chainSync(stack, {
    name: "with_faults",
    datasets: DATASETS,
    from: FROM,
    to: 500,
    size: SIZE,
    pool: "faulty",
    timeoutMs: 90_000,
  });
  const rows = await settled(
    stack.sql,
    ranges.map((r) => r.taskId),
    90_000,
  );
  assert.deepEqual(
    rows.filter((r) => r.status !== "completed").map((r) => r.last_error_message),
    [],
  );
  const withFaults = await outputsOf(ranges, await versionsOf(stack.sql, ranges));
  assert.equal(withFaults.size, 30);
  for (const [range, files] of withFaults) {
    assert.deepEqual([...files], [...faultFree.get(range)!], `${range} identical`);
  }
  const stats = faulty.stats();
  assert.ok(stats.faultsInjected > 10, `faults were injected (${stats.faultsInjected})`);
});
