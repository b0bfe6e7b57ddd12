/**
 * Extraction pipeline throughput and memory against the synthetic chain (mainnet-sized blocks:
 * ~150 txs, ~300 logs each).
 *
 *   node --import tsx bench/extract.ts [--datasets blocks,transactions,logs] [--sizes 10000,100000]
 *                                      [--targets file,s3] [--start 1000000]
 *                                      [--node-options=--max-old-space-size=256]
 *                                      [--modes raw,pipeline] [--options '{"maxBlocksInFlight":20}']
 *                                      [--from-source] [--store-options '{"queueSize":2}']
 *                                      [--devnet-latency-ms 0] [--fresh-windows]
 *
 * The devnet server runs in its own process; fauxqs (S3) runs in this orchestrating process.
 * Each measurement runs in a fresh child process (bench/extract-child.js) so its peak RSS
 * (VmHWM) is its own. Children run the compiled dist/ like `trace` does (`npm run build` first;
 * `--from-source` measures the sources through tsx, whose loader thread adds ~35 MiB):
 *   - raw: the same RPC calls through the same RpcClient (same batching, concurrency and
 *     prefetch window as the pipeline), responses parsed (JSON.parse + the client's validation)
 *     and dropped: no rows, no Parquet, no upload;
 *   - pipeline: extractRange into an ArtifactSink (folder or S3), manifest written.
 * Ratio = pipeline wall time / raw wall time, measured back to back in the same run.
 * `--node-options` are passed to both children (e.g. a V8 heap cap: most of the peak RSS is
 * garbage that V8's default heap sizing lets accumulate, not live data). The children inherit
 * TRACE_MEMORY (`TRACE_MEMORY=v8 node --import tsx bench/extract.ts …` measures V8's own heap sizing).
 *
 * Memory growth with the range's length: a pipeline's peak RSS is the highest of many moments,
 * and it varies between runs with the blocks and with timing (fresh processes over the same
 * 10,000 blocks of transactions peaked at 186 and 195 MiB). A longer run has more moments, so
 * its peak comes out higher even when nothing accumulates, and comparing a 100,000-block run
 * with one 10,000-block run mixes the two. `--fresh-windows` separates them: after each
 * pipeline run longer than 10,000 blocks, every window of 10,000 of its blocks is extracted
 * again by a fresh process, and a second table sets the long run's peak per window beside the
 * fresh processes' peaks on the same blocks. Growth with length is the long run's peak minus
 * the highest fresh peak: what the long run holds beyond what its blocks need without a past.
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
  /** Object store options (OpenStoreOptions: partSizeBytes, queueSize), pipeline mode. */
  storeOptions?: Record<string, unknown>;
}

interface JobResult {
  wallMs: number;
  rows: number;
  files: number;
  bytes: number;
  peakRssMiB: number;
  /** Pipeline runs of more than 10,000 blocks: the peak of each 10,000 blocks (Linux ≥ 4.0). */
  peakRssByWindowMiB?: number[];
  cpuMs: number;
}

function runChild(job: Job): Promise<JobResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...nodeOptions,
        ...(fromSource ? ["--import", "tsx"] : []),
        join(root, "bench", "extract-child.js"),
        JSON.stringify(job),
      ],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "inherit"],
        env: { ...process.env, ...(fromSource ? { BENCH_FROM_SOURCE: "1" } : {}) },
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
    // Measure the TypeScript sources through tsx instead of the compiled dist/ (`npm run build`).
    "from-source": { type: "boolean", default: false },
    datasets: { type: "string", default: "blocks,transactions,logs" },
    sizes: { type: "string", default: "10000,100000" },
    targets: { type: "string", default: "file,s3" },
    start: { type: "string", default: "1000000" },
    "node-options": { type: "string", default: "" },
    // `--modes pipeline` skips the raw baseline (e.g. for a long memory-growth run).
    modes: { type: "string", default: "raw,pipeline" },
    // Extraction options as JSON, e.g. '{"maxBlocksInFlight":20}' (DatasetOptions).
    options: { type: "string", default: "{}" },
    // Object store options as JSON, e.g. '{"queueSize":2}' (OpenStoreOptions).
    "store-options": { type: "string", default: "{}" },
    // Every devnet response held this long (a remote node's round trip); 0 = answer at once.
    "devnet-latency-ms": { type: "string", default: "0" },
    // After each run of more than 10,000 blocks, extract each of its 10,000-block windows again
    // in a fresh process (see the header).
    "fresh-windows": { type: "boolean", default: false },
  },
});
const nodeOptions = (values["node-options"] ?? "").split(" ").filter((o) => o.length > 0);

const fromSource = values["from-source"] === true;

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
    "--latency-ms",
    values["devnet-latency-ms"],
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
    `, child node options: ${nodeOptions.join(" ") || "(none)"}, extraction options: ${values.options}` +
    `, store options: ${values["store-options"]}` +
    `, code: ${fromSource ? "src/ through tsx" : "dist/"}` +
    `, TRACE_MEMORY: ${process.env.TRACE_MEMORY || "unset (lean)"}` +
    `, devnet latency: ${values["devnet-latency-ms"]} ms per response`,
);
console.log(
  "| dataset | blocks | target | raw s | pipeline s | ratio | blocks/s | rows/s | rows | files | MiB written | peak RSS MiB (pipeline / raw) | pipeline peak RSS MiB of each 10,000 blocks | CPU s client raw / pipeline | CPU s devnet raw / pipeline |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
let start = Number(values.start);
const modes = values.modes.split(",");
const WINDOW = 10_000;
/** Rows of the --fresh-windows table, printed after the main one. */
const windowRows: string[] = [];
const mibList = (values: number[] | undefined) =>
  values?.map((v) => v.toFixed(0)).join(", ") ?? "—";
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
          storeOptions: JSON.parse(values["store-options"]) as Record<string, unknown>,
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
        if (values["fresh-windows"] && size > WINDOW) {
          const fresh: number[] = [];
          for (let from = start; from < start + size; from += WINDOW) {
            const windowDir =
              target === "s3" ? undefined : mkdtempSync(join(tmpdir(), "bench-extract-"));
            const windowOutput = windowDir ?? `s3://bench-extract/window-${from}`;
            const run = await runChild({
              ...base,
              start: from,
              blocks: Math.min(WINDOW, start + size - from),
              mode: "pipeline",
              output: windowOutput,
            });
            if (windowDir) rmSync(windowDir, { recursive: true, force: true });
            fresh.push(run.peakRssMiB);
          }
          const maxFresh = Math.max(...fresh);
          windowRows.push(
            `| ${dataset} | ${size} | ${target} | ${pipe.peakRssMiB.toFixed(0)} | ` +
              `${mibList(pipe.peakRssByWindowMiB)} | ${mibList(fresh)} | ${maxFresh.toFixed(0)} | ` +
              `${(pipe.peakRssMiB - maxFresh).toFixed(1)} |`,
          );
        }
        start += size;
        console.log(
          `| ${dataset} | ${size} | ${target} | ${(raw.wallMs / 1000).toFixed(1)} | ${(pipe.wallMs / 1000).toFixed(1)} | ` +
            `${(pipe.wallMs / raw.wallMs).toFixed(2)} | ${((size * 1000) / pipe.wallMs).toFixed(0)} | ` +
            `${((pipe.rows * 1000) / pipe.wallMs).toFixed(0)} | ${pipe.rows} | ${pipe.files} | ` +
            `${(pipe.bytes / 2 ** 20).toFixed(1)} | ${pipe.peakRssMiB.toFixed(0)} / ${raw.peakRssMiB.toFixed(0)} | ` +
            `${mibList(pipe.peakRssByWindowMiB)} | ` +
            `${(raw.cpuMs / 1000).toFixed(1)} / ${(pipe.cpuMs / 1000).toFixed(1)} | ` +
            `${((d1 - d0) / 1000).toFixed(1)} / ${((d2 - d1) / 1000).toFixed(1)} |`,
        );
      }
    }
  }
  if (windowRows.length > 0) {
    console.log(
      "\n| dataset | blocks | target | peak RSS MiB of the run | its peak per 10,000 blocks | a fresh process's peak on the same 10,000 blocks | highest fresh peak | run peak − highest fresh peak |",
    );
    console.log("|---|---|---|---|---|---|---|---|");
    for (const row of windowRows) console.log(row);
  }
} finally {
  devnet.kill();
  await s3.stop();
}
