import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { type Logger, pino } from "pino";
import { classify, describeError, errorCategory, FatalError } from "../core/errors.ts";
import { isUuid } from "../core/ids.ts";
import { defaultStagingRoot, stagingTtlMsFromEnv, sweepStaleStaging } from "../cryo-cli/index.ts";
import type { DatasetOptions } from "../extract/index.ts";
import type { RpcClientOptions } from "../rpc/index.ts";
import {
  type ArtifactCaps,
  cleanupStale,
  DEFAULT_ARTIFACT_CAPS,
  type ObjectStore,
  type OpenStoreOptions,
  openObjectStore,
  resolveCaps,
} from "../sink/index.ts";
import { connect, PgQueue, type QueueMessage, type Sql } from "../state/index.ts";
import { DispatcherClient } from "./dispatcher-client.ts";
import { WorkerShutdownError } from "./errors.ts";
import { RpcPools } from "./rpc-pools.ts";
import { runTask, type TaskDeps, type TaskRunResult, type WorkerMode } from "./run-task.ts";

export interface WorkerOptions {
  /** Base URL of the dispatcher's task API. */
  dispatcherUrl: string;
  /** Shared secret sent as X-Trace-Worker-Token on claims. */
  workerToken: string;
  /**
   * The wake-up queue (pgqueue). This URL is the worker's only database access: give it a role
   * that can use `state.queue_messages` / `state.queue_dead_letters` and nothing else.
   */
  queue: {
    databaseUrl: string;
    name?: string;
    visibilityMs?: number;
    pollMs?: number;
    requeueDelayMs?: number;
  };
  /** `s3://bucket[/prefix]`, `file:///dir` or a path. */
  objectStoreUrl: string;
  objectStore?: OpenStoreOptions;
  /** Tasks run at once. Default 1. */
  concurrency?: number;
  /** Where `TRACE_RPC_POOL_<POOL>_URL`, AWS_* and the child env of cryo come from. */
  env?: NodeJS.ProcessEnv;
  mode?: WorkerMode;
  caps?: Partial<ArtifactCaps>;
  /** Heartbeat period; default a third of the lease time left (`leaseSafety`). */
  heartbeatIntervalMs?: number;
  leaseSafety?: number;
  rpc?: Omit<RpcClientOptions, "urls">;
  extractOptions?: DatasetOptions;
  cryo?: { bin?: string; stagingRoot?: string; stagingTtlMs?: number; timeoutMs?: number };
  /** Incomplete uploads under `cryo/` older than this are aborted at start. Default: env/24 h. */
  staleUploadTtlMs?: number;
  logger?: Logger | false;
}

export interface StartupCleanup {
  stagingRemoved: number;
  uploadsAborted: string[];
  uploadsKept: number;
}

export interface Worker {
  readonly id: string;
  /** Crash cleanup, then consume wake-ups until stop(). Resolves once consuming has begun. */
  start(): Promise<StartupCleanup>;
  /**
   * Stops claiming, lets running tasks finish for up to `deadlineMs` (default 30 s), then aborts
   * the rest cleanly (sink aborted, completed as retryable), and releases every resource.
   */
  stop(options?: { deadlineMs?: number }): Promise<void>;
  /** One wake-up without the queue (tests, pure-HTTP wake-ups). */
  runTask(taskId: string): Promise<TaskRunResult>;
  /** Tasks currently running. */
  readonly running: number;
  /**
   * Resolves when the worker stopped claiming by itself because it cannot work at all (the
   * dispatcher rejects its token). The caller should stop() it and exit with an error.
   */
  readonly failed: Promise<Error>;
}

/** The prefix every cryo_ingest version lives under (trace-rust §2.9); the worker's own. */
export const WORKER_PREFIX = "cryo/";

function positiveInt(name: string, v: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < 1 || v > max)
    throw new FatalError(`${name} must be an integer in [1, ${max}], got ${v}`, {
      category: "config",
    });
  return v;
}

export function createWorker(options: WorkerOptions): Worker {
  if (Buffer.byteLength(options.workerToken ?? "") < 16)
    throw new FatalError("workerToken must be at least 16 bytes", { category: "config" });
  const mode = options.mode ?? "inprocess";
  if (mode !== "inprocess" && mode !== "cli")
    throw new FatalError(`mode must be "inprocess" or "cli", got ${JSON.stringify(mode)}`, {
      category: "config",
    });
  const concurrency = positiveInt("concurrency", options.concurrency ?? 1, 256);
  const env = options.env ?? process.env;
  const caps = resolveCaps({ ...DEFAULT_ARTIFACT_CAPS, ...options.caps });
  const queueName = options.queue.name ?? "task_wakeup";
  const visibilityMs = options.queue.visibilityMs ?? 30_000;
  const pollMs = options.queue.pollMs ?? 200;
  const requeueDelayMs = options.queue.requeueDelayMs ?? 500;
  const log =
    options.logger === false
      ? pino({ level: "silent" })
      : (options.logger ?? pino({ name: "worker" }));
  const id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const stagingRoot = options.cryo?.stagingRoot ?? defaultStagingRoot();

  const store: ObjectStore = openObjectStore(options.objectStoreUrl, {
    env,
    ...options.objectStore,
  });
  const rpc = new RpcPools(env, options.rpc);
  const deps: TaskDeps = {
    client: new DispatcherClient(options.dispatcherUrl, options.workerToken, id),
    store,
    mode,
    caps,
    rpc,
    extractOptions: options.extractOptions,
    cryo: {
      bin: options.cryo?.bin ?? "cryo",
      stagingRoot,
      timeoutMs: options.cryo?.timeoutMs,
      env,
    },
    lease: { intervalMs: options.heartbeatIntervalMs, safety: options.leaseSafety },
    log: log.child({ worker_id: id }),
  };

  let sql: Sql | undefined;
  let queue: PgQueue | undefined;
  const shutdown = new AbortController();
  const stopPolling = new AbortController();
  const pollingStopped = abortPromise(stopPolling.signal);
  const running = new Set<Promise<void>>();
  let loop: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  let fail: (err: Error) => void = () => {};
  const failed = new Promise<Error>((resolve) => {
    fail = resolve;
  });

  /**
   * One small object written and deleted under the worker's prefix at start. A store this
   * worker cannot write to (a wrong folder, no permission, no such bucket) would otherwise fail
   * every task it claims, fatally, and those tasks would wait for `trace retry-failed`. A store
   * that is only unreachable right now (a retryable error) does not stop the start.
   */
  async function checkStoreWritable(): Promise<void> {
    const key = `${WORKER_PREFIX}_probe/${randomUUID()}`;
    try {
      await store.put(key, new TextEncoder().encode("trace worker write check\n"));
      await store.delete(key);
    } catch (err) {
      if (classify(err) === "retryable") {
        log.warn(
          { event: "worker.store_check.failed", error: describeError(err) },
          "object store write check failed; starting anyway",
        );
        return;
      }
      throw new FatalError(
        `the object store ${store.url} is not writable by this worker: ${describeError(err)}`,
        { category: "config", cause: err },
      );
    }
  }

  async function startupCleanup(): Promise<StartupCleanup> {
    const swept = await sweepStaleStaging(
      stagingRoot,
      options.cryo?.stagingTtlMs ?? stagingTtlMsFromEnv(env),
    );
    let aborted: string[] = [];
    let kept = 0;
    try {
      const report = await cleanupStale(store, {
        prefix: WORKER_PREFIX,
        olderThanMs: options.staleUploadTtlMs,
        env,
      });
      aborted = report.aborted.map((a) => a.key);
      kept = report.kept;
      for (const f of report.failed)
        log.warn(
          { event: "worker.cleanup.abort_failed", key: f.item.key, error: describeError(f.error) },
          "could not abort a stale upload",
        );
    } catch (err) {
      // The store being briefly unreachable must not stop the worker; the next start retries.
      log.warn(
        { event: "worker.cleanup.failed", error: describeError(err) },
        "stale upload cleanup failed",
      );
    }
    const result = {
      stagingRemoved: swept.removed.length,
      uploadsAborted: aborted,
      uploadsKept: kept,
    };
    log.info(
      { event: "worker.cleanup", ...result, uploadsAborted: aborted.length },
      "startup cleanup done",
    );
    return result;
  }

  async function handle(msg: QueueMessage): Promise<void> {
    const taskId = (msg.payload as { task_id?: unknown } | null)?.task_id;
    if (typeof taskId !== "string" || !isUuid(taskId)) {
      log.warn(
        { event: "worker.message.malformed", message_id: msg.messageId },
        "dropping malformed wake-up",
      );
      await queue!.ack(msg.messageId);
      return;
    }
    try {
      await runTask(deps, taskId, { signal: shutdown.signal });
    } catch (err) {
      if (errorCategory(err) === "worker_unauthorized") {
        // Every claim would fail the same way: hand the wake-up straight back (another worker
        // may hold a valid token) and stop claiming instead of burning its deliveries.
        log.error(
          { event: "worker.unauthorized", task_id: taskId },
          "the dispatcher rejected this worker's token; no longer claiming (check TRACE_WORKER_TOKEN)",
        );
        await queue!.requeue(msg.messageId, 0).catch(() => {});
        stopPolling.abort();
        fail(err as Error);
        return;
      }
      // Only the claim throws: the dispatcher was unreachable, so the wake-up is kept for later.
      log.warn(
        { event: "worker.claim.failed", task_id: taskId, error: describeError(err) },
        "claim failed; wake-up requeued",
      );
      await queue!.requeue(msg.messageId, requeueDelayMs).catch(() => {});
      return;
    }
    // Handled (completed, failed, lost or stale): the dispatcher owns any retry from here.
    await queue!.ack(msg.messageId);
  }

  function track(p: Promise<void>): void {
    const t = p.catch((err) =>
      log.error(
        { event: "worker.message.error", error: describeError(err) },
        "wake-up handling failed",
      ),
    );
    running.add(t);
    void t.finally(() => running.delete(t));
  }

  async function consume(): Promise<void> {
    while (!stopPolling.signal.aborted) {
      const free = concurrency - running.size;
      if (free <= 0) {
        await Promise.race([...running, pollingStopped]);
        continue;
      }
      let msgs: QueueMessage[] = [];
      try {
        msgs = await queue!.receive(queueName, { max: free, visibilityMs });
      } catch (err) {
        log.warn(
          { event: "worker.queue.error", error: describeError(err) },
          "queue receive failed",
        );
      }
      if (stopPolling.signal.aborted) {
        // Received after stop began: give them back at once for another worker.
        for (const m of msgs) await queue!.requeue(m.messageId, 0).catch(() => {});
        return;
      }
      for (const m of msgs) track(handle(m));
      if (msgs.length === 0) {
        await sleep(pollMs * (0.75 + Math.random() / 2), undefined, {
          signal: stopPolling.signal,
        }).catch(() => {});
      }
    }
  }

  return {
    id,
    get running() {
      return running.size;
    },
    failed,
    async start() {
      if (loop) throw new FatalError("worker already started", { category: "config" });
      await checkStoreWritable();
      const cleanup = await startupCleanup();
      sql = connect(options.queue.databaseUrl, {
        max: Math.min(4, concurrency + 1),
        applicationName: "trace-worker",
      });
      queue = new PgQueue(sql);
      loop = consume();
      log.info(
        { event: "worker.started", worker_id: id, mode, concurrency, queue: queueName },
        "worker started",
      );
      return cleanup;
    },
    runTask: (taskId: string) => runTask(deps, taskId, { signal: shutdown.signal }),
    stop(opts = {}) {
      stopped ??= (async () => {
        const deadlineMs = opts.deadlineMs ?? 30_000;
        stopPolling.abort();
        await loop;
        if (running.size > 0) {
          log.info(
            { event: "worker.stopping", running: running.size, deadline_ms: deadlineMs },
            "waiting for running tasks",
          );
          const timer = sleep(deadlineMs, undefined, { ref: false }).then(
            () => "deadline" as const,
          );
          const outcome = await Promise.race([
            Promise.all(running).then(() => "done" as const),
            timer,
          ]);
          if (outcome === "deadline") {
            log.warn(
              { event: "worker.stopping.abort", running: running.size },
              "deadline passed: aborting tasks",
            );
            shutdown.abort(new WorkerShutdownError());
            await Promise.all(running);
          }
        }
        await rpc.close();
        await store.close();
        if (sql) await sql.end({ timeout: 5 });
        log.info({ event: "worker.stopped" }, "worker stopped");
      })();
      return stopped;
    },
  };
}

function abortPromise(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true }),
  );
}
