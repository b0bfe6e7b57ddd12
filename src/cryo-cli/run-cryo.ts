import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { FatalError, RetryableError } from "../core/errors.ts";
import type { ArtifactSink, PutResult } from "../core/types.ts";
import type { ArtifactCaps } from "../sink/index.ts";
import { checkStagedCaps, collectParquet } from "./collect.ts";
import { createStagingDir, removeStagingDir } from "./staging.ts";

/** What one fallback run needs; the sink is the same ArtifactSink the in-process path uses. */
export interface CryoCliRun {
  /** TRACE_CRYO_BIN: a path or a name looked up on PATH. */
  bin: string;
  /** cryo's dataset name (`blocks`, `transactions`, `logs`, …). */
  dataset: string;
  /** One RPC URL (cryo takes one `--rpc`). */
  rpcUrl: string;
  /** [start, endExclusive), passed as `--blocks start:end` (cryo's end is exclusive). */
  range: readonly [number, number];
  stagingRoot: string;
  taskId: string;
  attempt: number;
  sink: ArtifactSink;
  caps: ArtifactCaps;
  signal?: AbortSignal;
  /** Where PATH, HOME, … are taken from for the child. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Kill cryo after this long (retryable). Default: no limit (the lease bounds the task). */
  timeoutMs?: number;
}

export interface CryoCliResult {
  files: PutResult[];
  stagingDir: string;
}

/** Exactly the argv of trace-rust §4 (the code's shape, not NOTES.md's). */
export function cryoArgv(
  dataset: string,
  rpcUrl: string,
  range: readonly [number, number],
  outputDir: string,
): string[] {
  return [
    dataset,
    "--rpc",
    rpcUrl,
    "--blocks",
    `${range[0]}:${range[1]}`,
    "--output-dir",
    outputDir,
  ];
}

/**
 * Only these variables reach cryo: it needs no secret of ours (worker token, database URL,
 * object-store credentials), and a child should not see them.
 */
const CHILD_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "RUST_LOG", "RUST_BACKTRACE"];

const MAX_ERROR_TEXT = 1024;
const MAX_CAPTURE = 64 * 1024;

/** Keeps the last `MAX_CAPTURE` bytes of a stream: cryo's error is at the end of its output. */
class Tail {
  private chunks: Buffer[] = [];
  private bytes = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.bytes += b.length;
    while (this.bytes > MAX_CAPTURE && this.chunks.length > 1)
      this.bytes -= this.chunks.shift()!.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/** cryo's error text: stdout (where cryo prints errors) then stderr, trimmed to 1024 bytes. */
export function errorText(stdout: string, stderr: string, rpcUrl: string): string {
  let text = [stdout.trim(), stderr.trim()].filter((s) => s.length > 0).join("\n");
  // The RPC URL may carry credentials; cryo echoes it in some errors.
  if (rpcUrl) text = text.split(rpcUrl).join("<rpc url>");
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > MAX_ERROR_TEXT) {
    text = `…${bytes.subarray(bytes.length - MAX_ERROR_TEXT).toString("utf8")}`;
  }
  return text.length > 0 ? text : "cryo failed";
}

export interface CryoExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Exit classification of trace-rust §4: 2 is a usage error (fatal), anything else retryable. */
export function classifyExit(exit: CryoExit, rpcUrl: string): Error | undefined {
  if (exit.code === 0) return undefined;
  const text = errorText(exit.stdout, exit.stderr, rpcUrl);
  if (exit.code === 2)
    return new FatalError(`cryo exited with code 2: ${text}`, { category: "cryo_usage" });
  const how = exit.code === null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  return new RetryableError(`cryo ${how}: ${text}`, { category: "cryo_failed" });
}

function runProcess(
  bin: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; signal?: AbortSignal; timeoutMs?: number; cwd: string },
): Promise<CryoExit> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {};
    for (const k of CHILD_ENV) if (opts.env[k] !== undefined) env[k] = opts.env[k];
    const child = spawn(bin, args, { cwd: opts.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const out = new Tail();
    const err = new Tail();
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    let killTimer: NodeJS.Timeout | undefined;
    let stopReason: unknown;
    const stop = (reason: unknown) => {
      if (stopReason !== undefined || child.exitCode !== null) return;
      stopReason = reason;
      child.kill("SIGTERM");
      // cryo gets a moment to stop cleanly; then it is killed.
      killTimer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      killTimer.unref();
    };
    const onAbort = () => stop(opts.signal?.reason ?? new Error("aborted"));
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const timeout =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () =>
              stop(
                new RetryableError(`cryo did not finish within ${opts.timeoutMs} ms`, {
                  category: "cryo_timeout",
                }),
              ),
            opts.timeoutMs,
          );
    const done = () => {
      opts.signal?.removeEventListener("abort", onAbort);
      if (timeout) clearTimeout(timeout);
      if (killTimer) clearTimeout(killTimer);
    };
    child.on("error", (e: NodeJS.ErrnoException) => {
      done();
      if (e.code === "ENOENT")
        reject(
          new FatalError(`cryo binary not found: ${bin}`, { category: "cryo_not_found", cause: e }),
        );
      else
        reject(
          new RetryableError(`could not start cryo (${bin})`, { category: "cryo_spawn", cause: e }),
        );
    });
    child.on("close", (code, signal) => {
      done();
      if (stopReason !== undefined) reject(stopReason);
      else resolve({ code, signal, stdout: out.text(), stderr: err.text() });
    });
  });
}

/**
 * The Phase 0 fallback: run the real `cryo` binary into a private staging dir, enforce the caps on
 * what it produced before uploading anything, upload through the attempt's ArtifactSink, and
 * delete the staging dir on success and on failure. The caller writes the manifest.
 */
export async function runCryoCli(run: CryoCliRun): Promise<CryoCliResult> {
  if (!run.rpcUrl) throw new FatalError("no RPC URL for cryo", { category: "missing_rpc_url" });
  if (!/^[a-z0-9_]{1,64}$/.test(run.dataset))
    throw new FatalError(`invalid cryo dataset name ${JSON.stringify(run.dataset)}`, {
      category: "invalid_task",
    });
  const dir = await createStagingDir(run.stagingRoot, run.taskId, run.attempt);
  try {
    const exit = await runProcess(run.bin, cryoArgv(run.dataset, run.rpcUrl, run.range, dir), {
      env: run.env ?? process.env,
      signal: run.signal,
      timeoutMs: run.timeoutMs,
      cwd: dir,
    });
    const failure = classifyExit(exit, run.rpcUrl);
    if (failure) throw failure;
    const staged = await collectParquet(dir);
    checkStagedCaps(staged, run.caps);
    const files: PutResult[] = [];
    for (const f of staged) {
      run.signal?.throwIfAborted();
      files.push(
        await run.sink.putObject(f.name, createReadStream(f.path), {
          contentType: "application/vnd.apache.parquet",
        }),
      );
    }
    return { files, stagingDir: dir };
  } finally {
    await removeStagingDir(dir);
  }
}
