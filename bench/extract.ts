/**
 * Extraction pipeline throughput and memory against the synthetic chain (mainnet-sized blocks:
 * ~150 txs, ~300 logs each).
 *
 *   node --import tsx bench/extract.ts [--datasets blocks,transactions,logs] [--sizes 10000,100000]
 *                                      [--targets file,s3] [--start 1000000]
 *                                      [--node-options=--max-old-space-size=256]
 *                                      [--modes raw,pipeline] [--options '{"maxBlocksInFlight":20}']
 *
 * The devnet server runs in its own process; fauxqs (S3) runs in this orchestrating process.
 * Each measurement runs in a fresh child process so its peak RSS (VmHWM) is its own:
 *   - raw: the same RPC calls through the same RpcClient (same batching, concurrency and
 *     prefetch window as the pipeline), responses parsed (JSON.parse + the client's validation)
 *     and dropped: no rows, no Parquet, no upload;
 *   - pipeline: extractRange into an ArtifactSink (folder or S3), manifest written.
 * Ratio = pipeline wall time / raw wall time, measured back to back in the same run.
 * `--node-options` are passed to both children (e.g. a V8 heap cap: most of the peak RSS is
 * garbage that V8's default heap sizing lets accumulate, not live data).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const root = join(import.meta.dirname, "..");

interface Job {
  mode: "raw" | "pipeline";
  dataset: string;
  start: number;
  blocks: number;
  rpc: string;
  target: "file" | "s3";
  output: string;
  env?: Record<string, string>;
  /** Extraction options (DatasetOptions), for both modes. */
  options?: Record<string, unknown>;
}

interface JobResult {
  wallMs: number;
  rows: number;
  files: number;
  bytes: number;
  peakRssMiB: number;
  cpuMs: number;
}

async function worker(job: Job): Promise<JobResult> {
  const { RpcClient } = await import("../src/rpc/index.ts");
  const { getDataset } = await import("../src/datasets/index.ts");
  const { resolveOptions } = await import("../src/extract/options.ts");
  const rpc = new RpcClient({ urls: [job.rpc] });
  const range: [number, number] = [job.start, job.start + job.blocks];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let rows = 0;
  let files = 0;
  let bytes = 0;
  if (job.mode === "raw") {
    const { prefetchUnits } = await import("../src/extract/prefetch.ts");
    const { planChunks } = await import("../src/extract/engine.ts");
    const { selectColumns } = await import("../src/datasets/index.ts");
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
    const { extractRange } = await import("../src/extract/index.ts");
    const { createArtifactSink, openObjectStore } = await import("../src/sink/index.ts");
    const { datasetUuid, datasetVersion, versionPrefix } = await import("../src/core/ids.ts");
    const store = openObjectStore(job.output, { env: { ...process.env, ...job.env } });
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
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return {
    wallMs,
    rows,
    files,
    bytes,
    peakRssMiB: hwm ? Number(hwm[1]) / 1024 : Number.NaN,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

function runChild(job: Job): Promise<JobResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...nodeOptions,
        "--import",
        "tsx",
        join(root, "bench", "extract.ts"),
        "--worker",
        JSON.stringify(job),
      ],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`));
      else resolve(JSON.parse(out.trim().split("\n").at(-1)!) as JobResult);
    });
  });
}

const { values } = parseArgs({
  options: {
    worker: { type: "string" },
    datasets: { type: "string", default: "blocks,transactions,logs" },
    sizes: { type: "string", default: "10000,100000" },
    targets: { type: "string", default: "file,s3" },
    start: { type: "string", default: "1000000" },
    "node-options": { type: "string", default: "" },
    // `--modes pipeline` skips the raw baseline (e.g. for a long memory-growth run).
    modes: { type: "string", default: "raw,pipeline" },
    // Extraction options as JSON, e.g. '{"maxBlocksInFlight":20}' (DatasetOptions).
    options: { type: "string", default: "{}" },
  },
});
const nodeOptions = (values["node-options"] ?? "").split(" ").filter((o) => o.length > 0);

if (values.worker) {
  process.stdout.write(`${JSON.stringify(await worker(JSON.parse(values.worker) as Job))}\n`);
  process.exit(0);
}

const { startS3Server, awsEnv, s3ClientFor } = await import("../test/support/s3.ts");
const { CreateBucketCommand } = await import("@aws-sdk/client-s3");
const devnet = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    join(root, "src/devnet/main.ts"),
    "--seed",
    "bench-extract",
    "--length",
    "2000000",
  ],
  {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const { url } = JSON.parse(
  await new Promise<string>((resolve, reject) => {
    createInterface({ input: devnet.stdout! }).once("line", resolve);
    devnet.once("exit", (c) => reject(new Error(`devnet exited with ${c}`)));
  }),
) as { url: string };
/** CPU seconds the devnet process has used so far (utime + stime from /proc). */
function devnetCpuMs(): number {
  const stat = readFileSync(`/proc/${devnet.pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ = 100 on Linux
}
const s3 = await startS3Server();
const client = s3ClientFor(s3.endpoint);
await client.send(new CreateBucketCommand({ Bucket: "bench-extract" }));
client.destroy();

console.log(
  `machine: ${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}` +
    `, child node options: ${nodeOptions.join(" ") || "(none)"}, extraction options: ${values.options}`,
);
console.log(
  "| dataset | blocks | target | raw s | pipeline s | ratio | blocks/s | rows/s | rows | files | MiB written | peak RSS MiB (pipeline / raw) | CPU s client raw / pipeline | CPU s devnet raw / pipeline |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
let start = Number(values.start);
const modes = values.modes.split(",");
const skipped: JobResult = {
  wallMs: Number.NaN,
  rows: Number.NaN,
  files: Number.NaN,
  bytes: Number.NaN,
  peakRssMiB: Number.NaN,
  cpuMs: Number.NaN,
};
try {
  for (const size of values.sizes.split(",").map(Number)) {
    for (const dataset of values.datasets.split(",")) {
      for (const target of values.targets.split(",") as ("file" | "s3")[]) {
        const dir = mkdtempSync(join(tmpdir(), "bench-extract-"));
        // Fresh blocks for every measurement pair: the devnet's cache cannot help either side.
        const base = {
          dataset,
          start,
          blocks: size,
          rpc: url,
          target,
          env: awsEnv(s3.endpoint),
          options: JSON.parse(values.options) as Record<string, unknown>,
        };
        const output = target === "s3" ? `s3://bench-extract/run-${start}` : dir;
        const d0 = devnetCpuMs();
        const raw = modes.includes("raw")
          ? await runChild({ ...base, mode: "raw", output })
          : skipped;
        const d1 = devnetCpuMs();
        const pipe = await runChild({ ...base, mode: "pipeline", output });
        const d2 = devnetCpuMs();
        rmSync(dir, { recursive: true, force: true });
        start += size;
        console.log(
          `| ${dataset} | ${size} | ${target} | ${(raw.wallMs / 1000).toFixed(1)} | ${(pipe.wallMs / 1000).toFixed(1)} | ` +
            `${(pipe.wallMs / raw.wallMs).toFixed(2)} | ${((size * 1000) / pipe.wallMs).toFixed(0)} | ` +
            `${((pipe.rows * 1000) / pipe.wallMs).toFixed(0)} | ${pipe.rows} | ${pipe.files} | ` +
            `${(pipe.bytes / 2 ** 20).toFixed(1)} | ${pipe.peakRssMiB.toFixed(0)} / ${raw.peakRssMiB.toFixed(0)} | ` +
            `${(raw.cpuMs / 1000).toFixed(1)} / ${(pipe.cpuMs / 1000).toFixed(1)} | ` +
            `${((d1 - d0) / 1000).toFixed(1)} / ${((d2 - d1) / 1000).toFixed(1)} |`,
        );
      }
    }
  }
} finally {
  devnet.kill();
  await s3.stop();
}
