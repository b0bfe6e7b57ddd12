import { z } from "zod";
import { parseEnv } from "../core/env.ts";
import { FatalError } from "../core/errors.ts";
import { checkRpcPoolSettings } from "../core/rpc-pools.ts";
import { artifactCapsFromEnv } from "../sink/index.ts";
import type { WorkerOptions } from "./worker.ts";

/**
 * Worker configuration from the environment (`trace worker`). Secrets are read here and never
 * echoed back in errors. RPC pool URLs and limits (`TRACE_RPC_POOL_<POOL>_*`, checked here), AWS_*
 * settings, the caps (MAX_PARQUET_*) and the TTLs are read from the same environment when used.
 */

const int = z.coerce.number().int();
const EnvSchema = z.object({
  TRACE_DISPATCHER_URL: z.string().url("TRACE_DISPATCHER_URL must be a URL"),
  TRACE_WORKER_TOKEN: z.string().min(16, "TRACE_WORKER_TOKEN must be at least 16 bytes"),
  DATABASE_URL: z.string().min(1, "DATABASE_URL (the wake-up queue) is required"),
  TRACE_OBJECT_STORE: z.string().min(1).default("./.trace/objects"),
  TRACE_WORKER_CONCURRENCY: int.min(1).max(256).default(1),
  TRACE_CRYO_MODE: z
    .string()
    .transform((s) => s.trim().toLowerCase())
    .pipe(z.enum(["inprocess", "cli"], { message: 'TRACE_CRYO_MODE must be "inprocess" or "cli"' }))
    .default("inprocess"),
  TRACE_CRYO_BIN: z.string().min(1).default("cryo"),
  TRACE_CRYO_TIMEOUT_MS: int.min(1).optional(),
  TRACE_WAKEUP_QUEUE: z.string().min(1).default("task_wakeup"),
  WORKER_POLL_MS: int.min(1).default(200),
  WORKER_VISIBILITY_TIMEOUT_SECS: int.min(1).default(30),
  WORKER_REQUEUE_DELAY_MS: int.min(0).default(500),
  TRACE_WORKER_HEARTBEAT_MS: int.min(1).optional(),
  TRACE_WORKER_SHUTDOWN_MS: int.min(0).default(30_000),
  TRACE_MAX_BLOCKS_IN_FLIGHT: int.min(1).max(100_000).optional(),
});

export interface WorkerEnvConfig {
  options: WorkerOptions;
  /** How long SIGTERM/SIGINT let running tasks finish. */
  shutdownDeadlineMs: number;
}

export function workerConfigFromEnv(env: NodeJS.ProcessEnv): WorkerEnvConfig {
  const e = parseEnv(EnvSchema, env, "worker");
  checkRpcPoolSettings(env);
  return {
    shutdownDeadlineMs: e.TRACE_WORKER_SHUTDOWN_MS,
    options: {
      dispatcherUrl: e.TRACE_DISPATCHER_URL,
      workerToken: e.TRACE_WORKER_TOKEN,
      queue: {
        databaseUrl: e.DATABASE_URL,
        name: e.TRACE_WAKEUP_QUEUE,
        pollMs: e.WORKER_POLL_MS,
        visibilityMs: e.WORKER_VISIBILITY_TIMEOUT_SECS * 1000,
        requeueDelayMs: e.WORKER_REQUEUE_DELAY_MS,
      },
      objectStoreUrl: e.TRACE_OBJECT_STORE,
      concurrency: e.TRACE_WORKER_CONCURRENCY,
      env,
      mode: e.TRACE_CRYO_MODE,
      caps: artifactCapsFromEnv(env),
      heartbeatIntervalMs: e.TRACE_WORKER_HEARTBEAT_MS,
      cryo: { bin: e.TRACE_CRYO_BIN, timeoutMs: e.TRACE_CRYO_TIMEOUT_MS },
      ...(e.TRACE_MAX_BLOCKS_IN_FLIGHT === undefined
        ? {}
        : { extractOptions: { maxBlocksInFlight: e.TRACE_MAX_BLOCKS_IN_FLIGHT } }),
    },
  };
}

/** Command-line flags of the worker process; they override the environment. */
export interface WorkerArgs {
  concurrency?: number;
}

const USAGE = "usage: worker [--concurrency N]";

/** Parses `--concurrency N` / `--concurrency=N`; anything else is refused with a clear error. */
export function parseWorkerArgs(argv: readonly string[]): WorkerArgs {
  const out: WorkerArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split(/=(.*)/s) : [arg];
    if (flag !== "--concurrency")
      throw new FatalError(`unknown argument ${JSON.stringify(arg)}; ${USAGE}`, {
        category: "config",
      });
    const value = inline ?? argv[++i];
    if (value === undefined || !/^[1-9][0-9]{0,2}$/.test(value) || Number(value) > 256)
      throw new FatalError(`--concurrency must be an integer in [1, 256]; ${USAGE}`, {
        category: "config",
      });
    out.concurrency = Number(value);
  }
  return out;
}
