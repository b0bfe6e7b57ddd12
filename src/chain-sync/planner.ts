import type { Logger } from "pino";
import { describeError, errorCategory } from "../core/errors.ts";
import { planTaskId } from "../core/ids.ts";
import type { CryoIngestPayload } from "../core/types.ts";
import { enqueueTasks } from "../dispatcher/enqueue.ts";
import { WAKEUP_QUEUE } from "../dispatcher/lifecycle.ts";
import type { Db, Sql, Tx } from "../state/index.ts";
import { boundedMessage } from "./errors.ts";

/**
 * The chain_sync planner (trace-rust §2.8, without §9.3/§9.8). One tick plans every active
 * stream of every enabled job, each stream in its own transaction: lock the cursor (SKIP LOCKED,
 * so several dispatchers plan disjoint streams and never the same one twice), then while
 * in-flight < max_inflight and cursor < target insert the next [start, end) ranges, their tasks
 * (deterministic task_ids) with their outbox wake-ups, and advance the cursor — a batch of
 * ranges in one statement and their tasks in one more. Either all of that commits or none of it.
 */

export interface PlannerOptions {
  wakeupQueue?: string;
  /** max_attempts of planned tasks. Default 3. */
  maxAttempts?: number;
  log?: Logger;
}

export interface PlanTickResult {
  /** Ranges inserted (and tasks enqueued) by this tick. */
  scheduled: number;
  /** Streams that could not plan: head missing/stale, or an error. */
  blocked: number;
}

/** Error kinds the planner sets on a stream and clears once the stream can plan again. */
export const PLANNER_BLOCK_KINDS = [
  "missing_head_observation",
  "stale_head_observation",
  "planner_error",
] as const;

export async function planOnce(sql: Sql, options: PlannerOptions = {}): Promise<PlanTickResult> {
  // Only streams that may have work: an idle tick (all done or all slots taken) is one query.
  // planStream re-checks everything under its locks.
  const streams = await sql<{ job_id: string; dataset_key: string }[]>`
    SELECT s.job_id, s.dataset_key
      FROM state.chain_sync_jobs j
      JOIN state.chain_sync_streams s USING (job_id)
      JOIN state.chain_sync_cursor c USING (job_id, dataset_key)
     WHERE j.enabled AND s.active
       AND (j.mode = 'follow_head' OR c.next_block < j.to_block)
       AND (SELECT count(*) FROM state.chain_sync_scheduled_ranges r
             WHERE r.job_id = s.job_id AND r.dataset_key = s.dataset_key
               AND r.status = 'scheduled') < s.max_inflight
     ORDER BY j.updated_at, j.created_at, s.job_id, s.dataset_key`;
  const result: PlanTickResult = { scheduled: 0, blocked: 0 };
  for (const s of streams) {
    try {
      const r = await planStream(sql, s.job_id, s.dataset_key, options);
      result.scheduled += r.scheduled;
      if (r.blocked) result.blocked++;
    } catch (err) {
      // One broken stream must not stop the others (the reference aborted the whole tick).
      result.blocked++;
      options.log?.error(
        {
          event: "chain_sync.planner.error",
          job_id: s.job_id,
          dataset_key: s.dataset_key,
          category: errorCategory(err),
          err: describeError(err),
        },
        "planning a chain_sync stream failed",
      );
      await recordError(sql, s.job_id, s.dataset_key, "planner_error", describeError(err)).catch(
        () => {},
      );
    }
  }
  return result;
}

interface StreamPlanRow {
  org_id: string;
  chain_id: string;
  mode: "fixed_target" | "follow_head";
  from_block: string;
  to_block: string | null;
  tail_lag: string | null;
  max_head_age_seconds: number | null;
  dataset_uuid: string;
  cryo_dataset_name: string;
  rpc_pool: string;
  config_hash: string;
  chunk_size: number;
  max_inflight: number;
  last_error_kind: string | null;
}

export async function planStream(
  sql: Sql,
  jobId: string,
  datasetKey: string,
  options: PlannerOptions = {},
): Promise<{ scheduled: number; blocked: boolean }> {
  return await sql.begin(async (tx) => {
    // FOR KEY SHARE on the job: an apply or pause (SELECT … FOR UPDATE) waits for us and we for
    // it, so a tick never plans from half of an old spec and half of a new one. Not FOR SHARE:
    // plain UPDATEs of the job row (the head observer's errors) need not wait for planning, and
    // when the planner itself wrote the job row, two dispatchers planning two streams of one
    // job deadlocked upgrading their FOR SHARE locks.
    const [row] = await tx<StreamPlanRow[]>`
      SELECT j.org_id, j.chain_id, j.mode, j.from_block, j.to_block, j.tail_lag,
             j.max_head_age_seconds, s.dataset_uuid, s.cryo_dataset_name, s.rpc_pool,
             s.config_hash, s.chunk_size, s.max_inflight, s.last_error_kind
        FROM state.chain_sync_jobs j
        JOIN state.chain_sync_streams s USING (job_id)
       WHERE j.job_id = ${jobId} AND s.dataset_key = ${datasetKey} AND j.enabled AND s.active
       FOR KEY SHARE OF j`;
    if (!row) return { scheduled: 0, blocked: false };
    const [cursorRow] = await tx<{ next_block: string }[]>`
      SELECT next_block FROM state.chain_sync_cursor
       WHERE job_id = ${jobId} AND dataset_key = ${datasetKey}
       FOR UPDATE SKIP LOCKED`;
    // Another dispatcher is planning this stream right now.
    if (!cursorRow) return { scheduled: 0, blocked: false };

    const target = await planningTarget(tx, row);
    if (!target.ok) {
      await recordError(tx, jobId, datasetKey, target.kind, target.message);
      return { scheduled: 0, blocked: true };
    }
    if (row.last_error_kind !== null && isPlannerBlock(row.last_error_kind)) {
      await tx`
        UPDATE state.chain_sync_streams
           SET last_error_kind = NULL, last_error_message = NULL, last_error_at = NULL
         WHERE job_id = ${jobId} AND dataset_key = ${datasetKey}`;
    }
    let cursor = Number(cursorRow.next_block);
    if (cursor >= target.exclusive) return { scheduled: 0, blocked: false };

    const [inflight] = await tx<{ n: number }[]>`
      SELECT count(*)::int AS n FROM state.chain_sync_scheduled_ranges
       WHERE job_id = ${jobId} AND dataset_key = ${datasetKey} AND status = 'scheduled'`;
    let slots = row.max_inflight - (inflight?.n ?? 0);
    let scheduled = 0;
    const chainId = Number(row.chain_id);
    while (slots > 0 && cursor < target.exclusive) {
      // The next `slots` ranges from the cursor, inserted in one statement and enqueued in one
      // more. A range that already exists (planned before a crash that lost nothing but this
      // process's memory) is skipped without taking a slot; the loop then plans further.
      const candidates: { range_start: number; range_end: number; task_id: string }[] = [];
      let next = cursor;
      while (candidates.length < slots && next < target.exclusive) {
        const end = Math.min(target.exclusive, next + row.chunk_size);
        candidates.push({
          range_start: next,
          range_end: end,
          task_id: planTaskId(jobId, datasetKey, next, end),
        });
        next = end;
      }
      const inserted = await tx<{ range_start: string }[]>`
        INSERT INTO state.chain_sync_scheduled_ranges
          (job_id, dataset_key, range_start, range_end, task_id)
        SELECT ${jobId}, ${datasetKey}, r.range_start, r.range_end, r.task_id
          FROM jsonb_to_recordset(${tx.json(candidates as never)})
            AS r(range_start bigint, range_end bigint, task_id uuid)
         ORDER BY r.range_start
        ON CONFLICT DO NOTHING
        RETURNING range_start`;
      const fresh = new Set(inserted.map((r) => Number(r.range_start)));
      const ranges = candidates.filter((c) => fresh.has(c.range_start));
      await enqueueTasks(
        tx,
        ranges.map((c) => {
          const payload: CryoIngestPayload = {
            operator: "cryo_ingest",
            chain_id: chainId,
            dataset_key: datasetKey,
            dataset_uuid: row.dataset_uuid,
            cryo_dataset_name: row.cryo_dataset_name,
            rpc_pool: row.rpc_pool,
            range_start: c.range_start,
            range_end: c.range_end,
            config_hash: row.config_hash,
          };
          return { taskId: c.task_id, payload, maxAttempts: options.maxAttempts ?? 3 };
        }),
        { queue: options.wakeupQueue ?? WAKEUP_QUEUE },
      );
      slots -= ranges.length;
      scheduled += ranges.length;
      cursor = next;
    }
    await tx`
      UPDATE state.chain_sync_cursor SET next_block = ${cursor}, updated_at = now()
       WHERE job_id = ${jobId} AND dataset_key = ${datasetKey}`;
    return { scheduled, blocked: false };
  });
}

type Target = { ok: true; exclusive: number } | { ok: false; kind: string; message: string };

/**
 * fixed_target: to_block. follow_head: (head + 1) − tail_lag from the stream's pool, never below
 * from_block; fail closed (no planning) when the observation is missing or too old.
 */
async function planningTarget(tx: Tx, row: StreamPlanRow): Promise<Target> {
  if (row.mode === "fixed_target") return { ok: true, exclusive: Number(row.to_block) };
  const [obs] = await tx<{ head_block: string; age_seconds: number }[]>`
    SELECT head_block,
           greatest(0, floor(extract(epoch FROM now() - observed_at)))::float8 AS age_seconds
      FROM state.chain_head_observations
     WHERE org_id = ${row.org_id} AND chain_id = ${row.chain_id} AND rpc_pool = ${row.rpc_pool}`;
  if (!obs) {
    return {
      ok: false,
      kind: "missing_head_observation",
      message: `no head observation yet for chain ${row.chain_id} via pool ${row.rpc_pool}`,
    };
  }
  const maxAge = row.max_head_age_seconds ?? 0;
  if (obs.age_seconds > maxAge) {
    return {
      ok: false,
      kind: "stale_head_observation",
      message: `head observation for chain ${row.chain_id} via pool ${row.rpc_pool} is older than max_head_age_seconds (${maxAge}s)`,
    };
  }
  const exclusive = Number(obs.head_block) + 1 - Number(row.tail_lag ?? 0);
  return { ok: true, exclusive: Math.max(Number(row.from_block), exclusive) };
}

function isPlannerBlock(kind: string): boolean {
  return (PLANNER_BLOCK_KINDS as readonly string[]).includes(kind);
}

/**
 * Sets a stream's last error (`datasetKey`) or, for problems that belong to the job as a whole
 * (the head observer's), the job's. Written only when kind or message differ, so a stream that
 * stays blocked does not rewrite its row every tick (and keeps "since when"). Status reports a
 * job's last error as the newest of its own and its streams', so a stream error that is cleared
 * once the problem is gone (the planner clears its blocks) stops being reported for the job too,
 * instead of sticking until a re-apply (trace-rust §9.8).
 */
export async function recordError(
  db: Db,
  jobId: string,
  datasetKey: string | null,
  kind: string,
  message: string,
): Promise<void> {
  const msg = boundedMessage(message);
  if (datasetKey !== null) {
    await db`
      UPDATE state.chain_sync_streams
         SET last_error_kind = ${kind}, last_error_message = ${msg}, last_error_at = now()
       WHERE job_id = ${jobId} AND dataset_key = ${datasetKey}
         AND (last_error_kind IS DISTINCT FROM ${kind}
              OR last_error_message IS DISTINCT FROM ${msg})`;
    return;
  }
  await db`
    UPDATE state.chain_sync_jobs
       SET last_error_kind = ${kind}, last_error_message = ${msg}, last_error_at = now()
     WHERE job_id = ${jobId}
       AND (last_error_kind IS DISTINCT FROM ${kind} OR last_error_message IS DISTINCT FROM ${msg})`;
}
