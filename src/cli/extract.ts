import { constants } from "node:os";
import { type Command, Option } from "commander";
import { raceAbort } from "../core/abort.ts";
import {
  classify,
  describeError,
  errorCategory,
  FatalError,
  RetryableError,
} from "../core/errors.ts";
import { DATASETS, getDataset, selectColumns } from "../datasets/index.ts";
import {
  type ExtractedFile,
  type ExtractProgress,
  type FailedChunk,
  PARQUET_CONTENT_TYPE,
  runExtraction,
} from "../extract/index.ts";
import { type DatasetOptions, resolveOptions } from "../extract/options.ts";
import { RpcClient } from "../rpc/index.ts";
import { openObjectStore } from "../sink/index.ts";
import {
  type BlockRangeArg,
  parseBlockRange,
  parseCount,
  parsePositive,
  UsageError,
} from "./usage.ts";

interface ExtractFlags {
  rpc: string[];
  blocks: BlockRangeArg;
  output: string;
  chunkSize?: number;
  columns?: string[];
  includeColumns?: string[];
  excludeColumns?: string[];
  hex?: boolean;
  u256Types?: string[];
  compression?: string;
  rowGroupSize?: number;
  stats: boolean;
  innerRequestSize?: number;
  maxBlocksInFlight?: number;
  overwrite?: boolean;
  json?: boolean;
  batchSize?: number;
  maxConcurrentRequests?: number;
  requestsPerSecond?: number;
  maxResponseBytes?: number;
  maxRetries?: number;
  initialBackoff?: number;
}

/** `trace extract <dataset>...`: cryo-compatible extraction into a folder or bucket. */
export function registerExtract(program: Command): void {
  const names = DATASETS.flatMap((d) => [d.name, ...d.aliases]).join(", ");
  program
    .command("extract")
    .description(
      `extract datasets (${names}) over a block range into Parquet files named like cryo`,
    )
    .argument("<datasets...>", "datasets to extract")
    .requiredOption("--rpc <url...>", "JSON-RPC endpoint(s); several form a failover pool")
    .requiredOption(
      "-b, --blocks <start:end>",
      "block range like cryo's: start:end (end exclusive), start:+n, start:latest",
      parseBlockRange,
    )
    .requiredOption("-o, --output <dir|file://|s3://>", "destination folder or s3://bucket/prefix")
    .option("-c, --chunk-size <n>", "blocks per file (default 1000)", parsePositive)
    .option("--columns <names...>", "replace the default columns (base names; 'all')")
    .option("-i, --include-columns <names...>", "add columns to the defaults")
    .option("-e, --exclude-columns <names...>", "remove columns from the defaults")
    .option("--hex", "binary columns as 0x strings")
    .option("--u256-types <types...>", "u256 column variants: binary string f32 f64 u32 u64")
    .addOption(
      new Option("--compression <name>", "Parquet codec").choices([
        "lz4",
        "zstd",
        "snappy",
        "gzip",
        "brotli",
        "none",
      ]),
    )
    .option("--row-group-size <rows>", "max rows per Parquet row group", parsePositive)
    .option("--no-stats", "write no Parquet statistics")
    .option(
      "--inner-request-size <blocks>",
      "blocks per eth_getLogs request (default 1)",
      parsePositive,
    )
    .option(
      "--max-blocks-in-flight <n>",
      "blocks fetched ahead of the encoder (default 40); raise for a slow remote node",
      parsePositive,
    )
    .option("--overwrite", "rewrite files that already exist (default: skip them, like cryo)")
    .option("--json", "print a JSON summary instead of one line per file")
    .option("--batch-size <n>", "JSON-RPC calls per batch request", parsePositive)
    .option("--max-concurrent-requests <n>", "concurrent HTTP requests (default 50)", parsePositive)
    .option("--requests-per-second <n>", "rate limit", parsePositive)
    .option(
      "--max-response-bytes <n>",
      "largest RPC response taken; bigger batch answers are split (default 134217728 = 128 MiB)",
      parsePositive,
    )
    .option("--max-retries <n>", "retries of a failed RPC request (default 7)", parseCount)
    .option(
      "--initial-backoff <ms>",
      "first retry delay, doubled each retry (default 250)",
      parsePositive,
    )
    .action(async (datasets: string[], flags: ExtractFlags) => {
      process.exitCode = await runExtractCommand(datasets, flags);
    });
}

function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

async function runExtractCommand(datasetNames: string[], flags: ExtractFlags): Promise<number> {
  const options: DatasetOptions = {
    chunkSize: flags.chunkSize,
    columns: flags.columns,
    includeColumns: flags.includeColumns,
    excludeColumns: flags.excludeColumns,
    hex: flags.hex,
    u256Types: flags.u256Types,
    compression: flags.compression,
    rowGroupSize: flags.rowGroupSize,
    statistics: flags.stats,
    innerRequestSize: flags.innerRequestSize,
    maxBlocksInFlight: flags.maxBlocksInFlight,
  };
  // Validate everything that does not need the network first: bad input is a usage error (2).
  const datasets = usage(() => datasetNames.map((n) => getDataset(n).name));
  usage(() => {
    const resolved = resolveOptions(options);
    for (const d of datasets) selectColumns(getDataset(d), resolved.selection);
  });
  const store = usage(() => openObjectStore(flags.output));
  const rpc = usage(
    () =>
      new RpcClient({
        urls: flags.rpc,
        batchSize: flags.batchSize,
        maxConcurrentRequests: flags.maxConcurrentRequests,
        requestsPerSecond: flags.requestsPerSecond,
        maxResponseBytes: flags.maxResponseBytes,
        maxAttempts: flags.maxRetries === undefined ? undefined : flags.maxRetries + 1,
        backoff:
          flags.initialBackoff === undefined
            ? undefined
            : { baseMs: flags.initialBackoff, maxMs: Math.max(10_000, flags.initialBackoff) },
      }),
  );
  const files: ExtractedFile[] = [];
  const skipped: string[] = [];
  const failed: FailedChunk[] = [];
  /** Left out after a streak of failures: chunk names, and whole datasets. */
  const notAttempted: string[] = [];
  const notStarted: string[] = [];
  const progress = process.stderr.isTTY ? new ProgressLine() : undefined;
  const interrupt = onInterrupt();
  /** The `--json` summary: always the same fields, plus the error that ended the run if any. */
  const printJson = (error?: unknown) => {
    const out = {
      files: files.map((f) => ({ key: f.key, rows: f.rows, bytes: f.size, sha256: f.sha256 })),
      skipped,
      failed: failed.map((f) => ({ name: f.name, blocks: f.blocks, error: errorJson(f.error) })),
      notAttempted,
      notStarted,
      ...(error === undefined ? {} : { error: errorJson(error) }),
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  };
  try {
    const { chainId, range } = await checkNode(flags.rpc, flags.blocks, interrupt.signal);
    for (const dataset of datasets) {
      const result = await runExtraction({
        rpc,
        dataset,
        signal: interrupt.signal,
        chainId,
        range,
        options,
        // Files and skips are recorded as they happen, so an interrupted run reports them too.
        onProgress: (p) => {
          progress?.update(p);
          if (p.file) files.push(p.file);
          if (p.skipped) skipped.push(p.skipped);
          if (p.file && !flags.json) {
            progress?.clear();
            const f = p.file;
            process.stdout.write(`${f.key}  rows=${f.rows} bytes=${f.size} sha256=${f.sha256}\n`);
          }
          if (p.skipped && !flags.json) {
            progress?.clear();
            process.stdout.write(`${p.skipped}  skipped (exists; --overwrite rewrites it)\n`);
          }
        },
        write: (name, body) => store.put(name, body, { contentType: PARQUET_CONTENT_TYPE }),
        exists: flags.overwrite
          ? undefined
          : async (name) => (await store.head(name)) !== undefined,
        // Like cryo: a failed chunk does not stop the others; it is reported and exits 1. Unlike
        // cryo, a streak of failures (a node that went down) stops the run.
        continueAfterChunkFailure: true,
        maxConsecutiveFailures: MAX_CONSECUTIVE_FAILURES,
      });
      for (const f of result.failed) {
        failed.push(f);
        progress?.clear();
        process.stderr.write(
          `error: ${describeError(f.error)} [${classify(f.error)}, ${errorCategory(f.error)}]\n`,
        );
      }
      if (result.stopped) {
        notAttempted.push(...result.stopped.notAttempted);
        notStarted.push(...datasets.slice(datasets.indexOf(dataset) + 1));
        break;
      }
    }
    progress?.clear();
    if (flags.json) printJson();
    if (notAttempted.length > 0 || notStarted.length > 0) {
      const datasetsLeft =
        notStarted.length > 0 ? `, datasets not started: ${notStarted.join(", ")}` : "";
      process.stderr.write(
        `stopped: ${MAX_CONSECUTIVE_FAILURES} chunks in a row failed, so the rest was not attempted (${notAttempted.length} chunk(s)${datasetsLeft}). Run the same command again to go on: existing files are skipped.\n`,
      );
    }
    if (failed.length > 0) {
      process.stderr.write(
        `${failed.length} chunk(s) failed, ${files.length} written, ${skipped.length} skipped\n`,
      );
      return 1;
    }
    return 0;
  } catch (err) {
    progress?.clear();
    if (interrupt.signal.aborted) {
      // Whatever was being written was discarded (no partial or temporary file is left).
      if (flags.json) printJson(interrupt.signal.reason);
      process.stderr.write(
        `interrupted: ${files.length} file(s) written, ${skipped.length} skipped; the file(s) in progress were discarded. Run the same command again to go on: existing files are skipped.\n`,
      );
      return interrupt.exitCode;
    }
    if (flags.json) printJson(err);
    process.stderr.write(
      `error: ${describeError(err)} [${classify(err)}, ${errorCategory(err)}]\n`,
    );
    return 1;
  } finally {
    interrupt.dispose();
    await rpc.close();
    await store.close();
  }
}

/** Chunks failing in a row before `trace extract` stops (see ExtractionJob.maxConsecutiveFailures). */
const MAX_CONSECUTIVE_FAILURES = 3;

/**
 * SIGINT / SIGTERM stop the extraction cleanly: in-flight requests are abandoned and the files
 * being written are discarded (a file store removes its temporary file, an S3 upload is aborted),
 * so a rerun finds only complete files. A second signal exits at once. The exit code is the
 * shell's 128 + signal number.
 */
function onInterrupt(): { signal: AbortSignal; exitCode: number; dispose(): void } {
  const controller = new AbortController();
  const state = {
    signal: controller.signal,
    exitCode: 1,
    dispose: () => {
      for (const s of SIGNALS) process.off(s, handler);
    },
  };
  const handler = (s: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(state.exitCode);
    state.exitCode = 128 + (constants.signals[s] ?? 0);
    controller.abort(new RetryableError(`interrupted by ${s}`, { category: "interrupted" }));
  };
  for (const s of SIGNALS) process.on(s, handler);
  return state;
}

const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

/**
 * The node's chain id and the range to extract, asked with a short retry budget (a few seconds,
 * or ~40 s for a node that never answers): at the start of a run a refused connection, an unknown host or
 * a stalled node is nearly always a wrong `--rpc`, and the extraction's own budget — over a
 * minute of backoff, right for a node that restarts mid-run — would only delay saying so.
 */
async function checkNode(
  urls: string[],
  blocks: BlockRangeArg,
  signal: AbortSignal,
): Promise<{ chainId: number; range: [number, number] }> {
  const quick = new RpcClient({
    urls,
    maxAttempts: 4,
    requestTimeoutMs: 10_000,
    backoff: { baseMs: 500, maxMs: 2_000 },
    endpointCooldown: { baseMs: 500, maxMs: 2_000 },
  });
  try {
    const ask = async () => ({
      chainId: await quick.chainId(),
      range: await resolveRange(quick, blocks),
    });
    // On an interrupt this returns at once and the client is closed below, which ends its
    // requests and retries: the process exits now, not when the last attempt times out.
    return await raceAbort(ask(), signal);
  } finally {
    await quick.close();
  }
}

/**
 * The range to extract, `latest` resolved with eth_blockNumber. Blocks past the node's head do
 * not exist yet: the node answers null for them, which the client retries (a lagging endpoint of
 * a pool may catch up) for a minute and a half before the chunk fails. A range that ends past
 * the head is refused up front instead, saying so.
 */
async function resolveRange(
  rpc: RpcClient,
  [start, endArg]: BlockRangeArg,
): Promise<[number, number]> {
  const head = await rpc.blockNumber();
  const beyond = (message: string) => new FatalError(message, { category: "range_beyond_head" });
  if (start > head)
    throw beyond(`--blocks ${start}:${endArg} starts after the node's latest block ${head}`);
  if (endArg === "latest") return [start, head + 1];
  if (endArg - 1 <= head) return [start, endArg];
  throw beyond(
    `--blocks ${start}:${endArg} ends at block ${endArg - 1}, but the node's latest block is ${head} (blocks ${head + 1}..${endArg - 1} do not exist yet): end it at ${head + 1} at most, or use ${start}:latest`,
  );
}

function errorJson(err: unknown) {
  return { message: describeError(err), class: classify(err), category: errorCategory(err) };
}

/** One self-overwriting stderr line: blocks/s, rows, ETA. Only used on a TTY. */
export class ProgressLine {
  private readonly started: number;
  private last = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly out: { write(s: string): unknown } = process.stderr,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

  update(p: ExtractProgress): void {
    const now = this.now();
    if (now - this.last < 200 && !p.file) return;
    this.last = now;
    const secs = (now - this.started) / 1000;
    const rate = secs > 0 ? p.blocksDone / secs : 0;
    const eta = rate > 0 ? Math.ceil((p.blocksTotal - p.blocksDone) / rate) : undefined;
    this.out.write(
      `\r\x1b[K${p.dataset}: ${p.blocksDone}/${p.blocksTotal} blocks, ${p.rows} rows, ` +
        `${rate.toFixed(1)} blocks/s${eta === undefined ? "" : `, ETA ${eta}s`}`,
    );
  }

  clear(): void {
    this.out.write("\r\x1b[K");
  }
}
