/**
 * Shared setup of the chain_sync tests: a real PostgreSQL database, the composed chain_sync
 * dispatcher listening on 127.0.0.1 (loops off unless asked: tests tick the planner themselves),
 * its admin client, and a worker simulated over the dispatcher HTTP API.
 */
import assert from "node:assert/strict";
import { pino } from "pino";
import { ChainSyncAdminClient } from "../src/chain-sync/client.ts";
import {
  type ChainSyncDispatcher,
  type ChainSyncDispatcherOptions,
  createChainSyncDispatcher,
} from "../src/chain-sync/dispatcher.ts";
import type { CryoIngestPayload } from "../src/core/types.ts";
import {
  type Claim,
  DispatcherClient,
  publicationFor,
  TEST_CAPABILITY,
  TEST_WORKER_TOKEN,
} from "../src/dispatcher/testkit.ts";
import { connect, type Sql } from "../src/state/index.ts";

export const ADMIN_TOKEN = "admin-token-for-tests-0123456789";

export interface Stack {
  sql: Sql;
  dbUrl: string;
  dispatcher: ChainSyncDispatcher;
  url: string;
  admin: ChainSyncAdminClient;
  worker: DispatcherClient;
  stop(): Promise<void>;
}

/**
 * `dbUrl` comes from `testDatabase()` called at module top level (its cleanup hooks must belong
 * to the file, not to a before() hook). Pass `sql` to share a pool across restarts.
 */
export async function startStack(
  dbUrl: string,
  overrides: Partial<ChainSyncDispatcherOptions> = {},
  shared?: Sql,
): Promise<Stack> {
  const sql = shared ?? connect(dbUrl, { max: 10 });
  const dispatcher = await createChainSyncDispatcher({
    sql,
    workerToken: TEST_WORKER_TOKEN,
    capability: TEST_CAPABILITY,
    adminToken: ADMIN_TOKEN,
    loops: false,
    // TRACE_TEST_LOG=1 shows the dispatcher's logs when debugging a test.
    logger: process.env.TRACE_TEST_LOG === "1" ? pino({ level: "debug" }) : false,
    leaseMs: 60_000,
    retry: { baseMs: 10, maxMs: 20, jitter: 0 },
    rpcEnv: {},
    ...overrides,
  });
  const url = await dispatcher.listen();
  return {
    sql,
    dbUrl,
    dispatcher,
    url,
    admin: new ChainSyncAdminClient(url, ADMIN_TOKEN),
    worker: new DispatcherClient(url),
    async stop() {
      await dispatcher.stop();
      if (!shared) await sql.end({ timeout: 5 });
    },
  };
}

export function fixedYaml(opts: {
  name?: string;
  chainId?: number;
  from?: number;
  to: number;
  streams: Record<string, { dataset?: string; pool?: string; chunk?: number; inflight?: number }>;
}): string {
  return [
    "kind: chain_sync",
    `name: ${opts.name ?? "sync"}`,
    `chain_id: ${opts.chainId ?? 1}`,
    "mode:",
    "  kind: fixed_target",
    `  from_block: ${opts.from ?? 0}`,
    `  to_block: ${opts.to}`,
    streamsYaml(opts.streams),
  ].join("\n");
}

export function followYaml(opts: {
  name?: string;
  chainId?: number;
  from?: number;
  tailLag: number;
  pollSeconds?: number;
  maxAgeSeconds?: number;
  streams: Record<string, { dataset?: string; pool?: string; chunk?: number; inflight?: number }>;
}): string {
  return [
    "kind: chain_sync",
    `name: ${opts.name ?? "follow"}`,
    `chain_id: ${opts.chainId ?? 1}`,
    "mode:",
    "  kind: follow_head",
    `  from_block: ${opts.from ?? 0}`,
    `  tail_lag: ${opts.tailLag}`,
    `  head_poll_interval_seconds: ${opts.pollSeconds ?? 1}`,
    `  max_head_age_seconds: ${opts.maxAgeSeconds ?? 60}`,
    streamsYaml(opts.streams),
  ].join("\n");
}

function streamsYaml(
  streams: Record<string, { dataset?: string; pool?: string; chunk?: number; inflight?: number }>,
): string {
  const lines = ["streams:"];
  for (const [key, s] of Object.entries(streams)) {
    lines.push(
      `  ${key}:`,
      `    cryo_dataset_name: ${s.dataset ?? key}`,
      `    rpc_pool: ${s.pool ?? "default"}`,
      `    chunk_size: ${s.chunk ?? 100}`,
      `    max_inflight: ${s.inflight ?? 2}`,
    );
  }
  return lines.join("\n");
}

export interface RangeRow {
  dataset_key: string;
  range_start: number;
  range_end: number;
  task_id: string;
  status: string;
}

export async function rangesOf(sql: Sql, jobId: string, datasetKey?: string): Promise<RangeRow[]> {
  const rows = await sql<RangeRow[]>`
    SELECT dataset_key, range_start::float8 AS range_start, range_end::float8 AS range_end,
           task_id, status
      FROM state.chain_sync_scheduled_ranges
     WHERE job_id = ${jobId} AND (${datasetKey ?? null}::text IS NULL OR dataset_key = ${datasetKey ?? null})
     ORDER BY dataset_key, range_start`;
  return rows.map((r) => ({ ...r }));
}

export async function cursorOf(sql: Sql, jobId: string, datasetKey: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    SELECT next_block::float8 AS n FROM state.chain_sync_cursor
     WHERE job_id = ${jobId} AND dataset_key = ${datasetKey}`;
  assert.ok(row, `cursor of ${datasetKey}`);
  return row.n;
}

/** Row counts of everything chain_sync and the task path write. */
export async function tableCounts(sql: Sql): Promise<Record<string, number>> {
  const tables = [
    "chain_sync_jobs",
    "chain_sync_streams",
    "chain_sync_cursor",
    "chain_sync_scheduled_ranges",
    "chain_head_observations",
    "tasks",
    "outbox",
  ];
  const out: Record<string, number> = {};
  for (const t of tables) {
    // Fixed table names from the list above, never input.
    const [r] = await sql.unsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM state.${t}`);
    out[t] = r!.n;
  }
  return out;
}

/** Claims a planned task over HTTP like a worker does. */
export async function claim(worker: DispatcherClient, taskId: string): Promise<Claim> {
  const r = await worker.claim(taskId);
  assert.equal(r.status, 200, `claim ${taskId}: ${JSON.stringify(r.body)}`);
  return r.body as Claim;
}

/** Claims and publishes the range honestly (the publication a real worker derives). */
export async function publish(worker: DispatcherClient, taskId: string): Promise<void> {
  const c = await claim(worker, taskId);
  const r = await worker.complete(c, {
    outcome: "success",
    datasets_published: [publicationFor(c.work_payload as CryoIngestPayload)],
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.status, "completed");
}

/** Claims and fails the task for good (fatal). */
export async function failFatally(
  worker: DispatcherClient,
  taskId: string,
  category = "cap_exceeded",
) {
  const c = await claim(worker, taskId);
  const r = await worker.complete(c, {
    outcome: "fatal_error",
    error: { category, message: "object larger than the cap" },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.status, "failed");
}
