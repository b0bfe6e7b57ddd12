// One measurement of bench/extract.ts, in its own process so that its peak RSS is its own. Plain
// JavaScript: it runs the compiled code in dist/ as `trace` does (bin/trace.js), without a
// TypeScript loader in the process; BENCH_FROM_SOURCE=1 (started with `--import tsx`) runs the
// sources instead. Prints one JSON line: wallMs, rows, files, bytes, peakRssMiB, cpuMs, and for
// a pipeline longer than 10,000 blocks peakRssByWindowMiB (the peak of each window of 10,000
// blocks; the first is what a run of 10,000 would have seen in the same process).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freshDist } from "../scripts/dist.js";

const root = join(import.meta.dirname, "..");
const fromSource = process.env.BENCH_FROM_SOURCE === "1";
if (!fromSource && !freshDist(root)) {
  process.stderr.write("bench: dist/ is missing or older than src/; run `npm run build`\n");
  process.exit(2);
}
/** A module of the project, compiled or from source. */
const load = (path) => import(fromSource ? `../src/${path}.ts` : `../dist/${path}.js`);

const job = JSON.parse(process.argv[2] ?? "{}");
/** VmHWM, the process's peak RSS so far, in MiB. */
const peakRssMiB = () => {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return hwm ? Number(hwm[1]) / 1024 : Number.NaN;
};
/**
 * The peak of each window of 10,000 blocks (as completed files report them), so a trend over the
 * run can be told from a peak that is merely the highest of more samples. Linux resets VmHWM to
 * the current RSS when "5" is written to /proc/self/clear_refs (since 4.0); where that fails
 * there are no windows.
 */
let peakRssByWindowMiB = [];
let overallPeakMiB = 0;
/** Closes the current window; false once windows are unavailable. */
const closeWindow = () => {
  const peak = peakRssMiB();
  overallPeakMiB = Math.max(overallPeakMiB, peak);
  try {
    writeFileSync("/proc/self/clear_refs", "5");
  } catch {
    peakRssByWindowMiB = undefined;
    return false;
  }
  peakRssByWindowMiB.push(peak);
  return true;
};
// As `trace extract` and `trace worker` do (src/cli/main.ts), TRACE_MEMORY included.
(await load("core/extraction-memory")).configureExtractionMemory(process.env);
const { RpcClient } = await load("rpc/index");
const { getDataset, selectColumns } = await load("datasets/index");
const { resolveOptions } = await load("extract/options");
const rpc = new RpcClient({ urls: [job.rpc] });
const range = [job.start, job.start + job.blocks];
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let rows = 0;
let files = 0;
let bytes = 0;
if (job.mode === "raw") {
  // The same RPC calls, batching, concurrency and prefetch window as the pipeline; responses
  // parsed and validated by the client, then dropped.
  const { prefetchUnits } = await load("extract/prefetch");
  const { planChunks } = await load("extract/engine");
  const def = getDataset(job.dataset);
  const opts = resolveOptions(job.options);
  const chunks = planChunks(def, 31337, range, opts.chunkSize);
  const groupSize =
    def.name === "logs"
      ? Math.max(opts.fetchGroupSize, opts.innerRequestSize)
      : opts.fetchGroupSize;
  const needs = {
    columns: new Set(selectColumns(def, opts.selection)),
    innerRequestSize: opts.innerRequestSize,
  };
  for await (const unit of prefetchUnits(def, rpc, chunks, needs, {
    groupSize,
    maxBlocksInFlight: Math.max(opts.maxBlocksInFlight, groupSize),
  })) {
    rows += def.rows(unit).length;
  }
} else {
  const { extractRange } = await load("extract/index");
  const { createArtifactSink, openObjectStore } = await load("sink/index");
  const { datasetUuid, datasetVersion, versionPrefix } = await load("core/ids");
  const store = openObjectStore(job.output, {
    ...job.storeOptions,
    env: { ...process.env, ...job.env },
  });
  const uuid = datasetUuid("00000000-0000-4000-8000-00000000beef", 31337, job.dataset);
  const version = datasetVersion(uuid, "bench", 31337, range[0], range[1]);
  const prefix = versionPrefix({
    chainId: 31337,
    datasetUuid: uuid,
    rangeStart: range[0],
    rangeEnd: range[1],
    datasetVersion: version,
  });
  const sink = createArtifactSink({
    store,
    prefix,
    datasetUuid: uuid,
    datasetVersion: version,
    configHash: "bench",
    rangeStart: range[0],
    rangeEnd: range[1],
    caps: { maxFiles: 100_000, maxBytesPerFile: 2 ** 40, maxTotalBytes: 2 ** 42 },
  });
  const res = await extractRange({
    rpc,
    dataset: job.dataset,
    chainId: 31337,
    range,
    sink,
    options: job.options,
    onProgress: (p) => {
      if (job.blocks <= 10_000) return;
      while (
        peakRssByWindowMiB &&
        p.blocksDone >= (peakRssByWindowMiB.length + 1) * 10_000 &&
        closeWindow()
      );
    },
  });
  await sink.writeManifest();
  for (const f of res.files) {
    rows += f.rows;
    bytes += f.size;
  }
  files = res.files.length;
  await store.close();
}
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
await rpc.close();
process.stdout.write(
  `${JSON.stringify({
    wallMs,
    rows,
    files,
    bytes,
    peakRssMiB: Math.max(overallPeakMiB, peakRssMiB()),
    peakRssByWindowMiB: peakRssByWindowMiB?.length ? peakRssByWindowMiB : undefined,
    cpuMs: (cpu.user + cpu.system) / 1000,
  })}\n`,
);
process.exit(0);
