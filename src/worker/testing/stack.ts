/**
 * Test helpers for the worker tests (not a test file itself): a full stack in one process —
 * real PostgreSQL, the real dispatcher over HTTP, the S3 test server and the synthetic chain —
 * plus the checks every worker test makes on what ended up in the bucket.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { after } from "node:test";
import { testDatabase } from "../../../test/support/postgres.ts";
import { type TestBucket, testBucket } from "../../../test/support/s3.ts";
import {
  applyChainSyncYaml,
  type ChainSyncDispatcher,
  chainSyncStatus,
  createChainSyncDispatcher,
  type JobStatus,
} from "../../chain-sync/index.ts";
import { cryoConfigHash, DEFAULT_ORG_ID, datasetUuid } from "../../core/ids.ts";
import type { CryoIngestPayload } from "../../core/types.ts";
import type { ChainOptions } from "../../devnet/chain.ts";
import { type Devnet, type FaultConfig, startDevnet } from "../../devnet/server.ts";
import { enqueueTask } from "../../dispatcher/enqueue.ts";
import { eventually, TEST_CAPABILITY, TEST_WORKER_TOKEN } from "../../dispatcher/testkit.ts";
import { type ObjectStore, openObjectStore, readManifest } from "../../sink/index.ts";
import {
  connect,
  type DatasetVersionRow,
  getTask,
  listDatasetVersions,
  type Sql,
  type TaskRow,
} from "../../state/index.ts";
import { createWorker, type Worker, type WorkerOptions } from "../worker.ts";

export const CHAIN_ID = 31337;
export const TEST_CHAIN: ChainOptions = {
  seed: "worker-tests",
  chainId: CHAIN_ID,
  length: 5_000,
  txsPerBlock: 6,
  logsPerBlock: 10,
  jitter: 0.5,
};

export interface Stack {
  sql: Sql;
  dbUrl: string;
  dispatcher: ChainSyncDispatcher;
  dispatcherUrl: string;
  bucket: TestBucket;
  storeUrl: string;
  /** Reads what workers wrote (s3 on the test server). */
  store: ObjectStore;
  devnet: Devnet;
  /** AWS_* for the test server plus the RPC pool `main` → the devnet. */
  env: Record<string, string>;
  workers: Worker[];
  worker(overrides?: Partial<WorkerOptions>): Worker;
  /** A worker as its own process (src/worker/main.ts): the stack's settings plus `env`. */
  spawnWorker(env?: Record<string, string>, args?: string[]): WorkerProcess;
  stop(): Promise<void>;
}

/** A spawned worker process; its output is collected as it comes. */
export interface WorkerProcess {
  proc: ChildProcess;
  out: { stdout: string; stderr: string };
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

const ROOT = join(import.meta.dirname, "..", "..", "..");

export async function startStack(opts: {
  label: string;
  leaseMs?: number;
  chain?: ChainOptions;
  faults?: FaultConfig;
  reaperMs?: number;
}): Promise<Stack> {
  // Registered before the database and servers are created: node:test runs after() hooks in
  // registration order, and the stack must stop while PostgreSQL and S3 are still up.
  let stopStack: (() => Promise<void>) | undefined;
  after(async () => {
    await stopStack?.();
  });
  const db = await testDatabase(opts.label);
  const sql = connect(db.url, { max: 10 });
  const dispatcher = await createChainSyncDispatcher({
    sql,
    adminToken: "admin-token-for-worker-tests",
    plannerIntervalMs: 50,
    workerToken: TEST_WORKER_TOKEN,
    capability: TEST_CAPABILITY,
    leaseMs: opts.leaseMs ?? 10_000,
    intervals: { outboxMs: 20, reaperMs: opts.reaperMs ?? 100, retryMs: 20 },
    retry: { baseMs: 20, maxMs: 100, jitter: 0 },
    logger: false,
  });
  const dispatcherUrl = await dispatcher.listen();
  await dispatcher.start();
  const bucket = await testBucket(opts.label.replace(/_/g, "-"));
  const devnet = await startDevnet({ chain: opts.chain ?? TEST_CHAIN, faults: opts.faults });
  const env: Record<string, string> = {
    ...bucket.env,
    PATH: process.env.PATH ?? "",
    TRACE_RPC_POOL_MAIN_URL: devnet.url,
  };
  const storeUrl = `s3://${bucket.bucket}/data`;
  const store = openObjectStore(storeUrl, { env });
  const workers: Worker[] = [];
  const processes: ChildProcess[] = [];
  let stopping: Promise<void> | undefined;
  stopStack = () =>
    (stopping ??= (async () => {
      for (const p of processes)
        if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
      await Promise.allSettled(workers.map((w) => w.stop({ deadlineMs: 1_000 })));
      await dispatcher.stop();
      await devnet.stop();
      await store.close();
      await sql.end({ timeout: 5 });
    })());
  return {
    sql,
    dbUrl: db.url,
    dispatcher,
    dispatcherUrl,
    bucket,
    storeUrl,
    store,
    devnet,
    env,
    workers,
    worker(overrides = {}) {
      const w = createWorker({
        dispatcherUrl,
        workerToken: TEST_WORKER_TOKEN,
        queue: { databaseUrl: db.url, pollMs: 20, requeueDelayMs: 50 },
        objectStoreUrl: storeUrl,
        concurrency: 4,
        env,
        logger: false,
        rpc: FAST_RPC,
        ...overrides,
      });
      workers.push(w);
      return w;
    },
    spawnWorker(extraEnv = {}, args = []) {
      const proc = spawn(process.execPath, ["--import", "tsx", "src/worker/main.ts", ...args], {
        cwd: ROOT,
        env: {
          ...env,
          TRACE_DISPATCHER_URL: dispatcherUrl,
          TRACE_WORKER_TOKEN: TEST_WORKER_TOKEN,
          DATABASE_URL: db.url,
          TRACE_OBJECT_STORE: storeUrl,
          WORKER_POLL_MS: "20",
          ...extraEnv,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      processes.push(proc);
      const out = { stdout: "", stderr: "" };
      proc.stdout?.on("data", (d) => {
        out.stdout += String(d);
      });
      proc.stderr?.on("data", (d) => {
        out.stderr += String(d);
      });
      const exited = new Promise<number | null>((resolve) => proc.once("exit", resolve));
      return { proc, out, exited };
    },
    stop: () => stopStack!(),
  };
}

/** Short retry delays so injected faults cost milliseconds, not seconds. */
export const FAST_RPC = {
  backoff: { baseMs: 5, maxMs: 50 },
  endpointCooldown: { baseMs: 5, maxMs: 50 },
  requestTimeoutMs: 2_000,
  maxAttempts: 30,
};

export interface PlannedRange {
  taskId: string;
  payload: CryoIngestPayload;
}

/**
 * Enqueues one cryo_ingest task per (dataset, range) the way the chain_sync planner does
 * (deterministic dataset_uuid per job org/chain/dataset key, config hash per dataset).
 */
export async function enqueueRanges(
  sql: Sql,
  opts: {
    datasets: string[];
    from: number;
    to: number;
    size: number;
    pool?: string;
    /** Makes the dataset uuids unique per test. */
    org?: string;
    maxAttempts?: number;
  },
): Promise<PlannedRange[]> {
  const org = opts.org ?? randomUUID();
  const out: PlannedRange[] = [];
  for (const dataset of opts.datasets) {
    for (let s = opts.from; s < opts.to; s += opts.size) {
      const payload: CryoIngestPayload = {
        operator: "cryo_ingest",
        chain_id: CHAIN_ID,
        dataset_key: dataset,
        dataset_uuid: datasetUuid(org, CHAIN_ID, dataset),
        cryo_dataset_name: dataset,
        rpc_pool: opts.pool ?? "main",
        range_start: s,
        range_end: Math.min(opts.to, s + opts.size),
        config_hash: cryoConfigHash(dataset),
      };
      const taskId = randomUUID();
      await enqueueTask(sql, { taskId, payload, maxAttempts: opts.maxAttempts });
      out.push({ taskId, payload });
    }
  }
  return out;
}

export { DEFAULT_ORG_ID };

/** Waits until every task is in a final state and returns the rows. */
export async function settled(sql: Sql, taskIds: string[], timeoutMs = 60_000): Promise<TaskRow[]> {
  return eventually(
    async () => {
      const rows = await Promise.all(taskIds.map((id) => getTask(sql, id)));
      return rows.every((r) => r && (r.status === "completed" || r.status === "failed"))
        ? (rows as TaskRow[])
        : undefined;
    },
    timeoutMs,
    "tasks to settle",
  );
}

export async function versionsOf(sql: Sql, ranges: PlannedRange[]): Promise<DatasetVersionRow[]> {
  const uuids = [...new Set(ranges.map((r) => r.payload.dataset_uuid))];
  return listDatasetVersions(sql, { datasetUuids: uuids });
}

/** Relative key inside the store of a registered version's prefix. */
export function storePrefix(row: DatasetVersionRow): string {
  const ref = row.storage_ref;
  if (ref.scheme !== "s3") throw new Error("expected an s3 storage ref");
  const base = "data/";
  if (!ref.prefix.startsWith(base)) throw new Error(`prefix ${ref.prefix} outside the store base`);
  return ref.prefix.slice(base.length);
}

/**
 * Reads the manifest of a registered version and the objects actually under its prefix; returns
 * both so tests can assert that the manifest lists exactly what is present.
 */
export async function manifestAndListing(stack: Stack, row: DatasetVersionRow) {
  const prefix = storePrefix(row);
  const read = await readManifest(stack.store, prefix, {
    expect: { datasetUuid: row.dataset_uuid, datasetVersion: row.dataset_version },
  });
  const listed = await stack.store.list(prefix);
  return { prefix, read, listed };
}

/**
 * Applies a fixed_target chain_sync job over `[from, to)` (chunk `size`) for `datasets`, waits
 * until the job reports `completed` or a range failed, and returns its status and planned tasks.
 */
export async function chainSync(
  stack: Stack,
  opts: {
    name: string;
    datasets: string[];
    from: number;
    to: number;
    size: number;
    pool?: string;
    org?: string;
    timeoutMs?: number;
    /** Resolve as soon as this many ranges failed (default: wait for completion). */
    untilFailed?: number;
  },
): Promise<{ status: JobStatus; ranges: PlannedRange[]; org: string }> {
  const org = opts.org ?? randomUUID();
  const yaml = fixedTargetYaml({ ...opts, chunk: opts.size, inflight: 8 });
  await applyChainSyncYaml(stack.sql, { orgId: org, yaml });
  const status = await eventually(
    async () => {
      const st = await chainSyncStatus(stack.sql, org, opts.name);
      const failed = st.streams.reduce((n, s) => n + s.ranges.failed, 0);
      if (opts.untilFailed !== undefined) return failed >= opts.untilFailed ? st : undefined;
      return st.completed ? st : undefined;
    },
    opts.timeoutMs ?? 60_000,
    `chain_sync ${opts.name}`,
  );
  const uuids = status.streams.map((s) => s.dataset_uuid);
  const rows = await stack.sql<{ task_id: string; payload: CryoIngestPayload }[]>`
    SELECT task_id, payload FROM state.tasks
     WHERE payload->>'dataset_uuid' = ANY(${stack.sql.array(uuids)})
     ORDER BY payload->>'dataset_key', (payload->>'range_start')::bigint`;
  return { status, ranges: rows.map((r) => ({ taskId: r.task_id, payload: r.payload })), org };
}

/** A fixed_target chain_sync job on the test chain, as the YAML `trace apply` takes. */
export function fixedTargetYaml(opts: {
  name: string;
  from: number;
  to: number;
  datasets: string[];
  chunk: number;
  inflight: number;
  pool?: string;
  /** Prepended to each dataset_key (a dataset has one owning job). */
  keyPrefix?: string;
}): string {
  return [
    "kind: chain_sync",
    `name: ${opts.name}`,
    `chain_id: ${CHAIN_ID}`,
    "mode:",
    "  kind: fixed_target",
    `  from_block: ${opts.from}`,
    `  to_block: ${opts.to}`,
    "streams:",
    ...opts.datasets.flatMap((d) => [
      `  ${opts.keyPrefix ?? ""}${d}:`,
      `    cryo_dataset_name: ${d}`,
      `    rpc_pool: ${opts.pool ?? "main"}`,
      `    chunk_size: ${opts.chunk}`,
      `    max_inflight: ${opts.inflight}`,
    ]),
    "",
  ].join("\n");
}
