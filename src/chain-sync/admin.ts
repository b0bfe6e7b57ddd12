import { insertWakeup, WAKEUP_QUEUE } from "../dispatcher/lifecycle.ts";
import { recordTaskEvent, type Sql } from "../state/index.ts";
import { JobNotFoundError } from "./errors.ts";

/** Operator commands on a chain_sync job, addressed by (org_id, name). */

export interface EnabledResult {
  job_id: string;
  name: string;
  enabled: boolean;
  /** False when the job already was in that state. */
  changed: boolean;
}

/**
 * Pause (false) or resume (true). Pausing stops new planning and head polling only: ranges in
 * flight keep running and complete normally. Resuming continues from the cursor.
 */
export async function setJobEnabled(
  sql: Sql,
  orgId: string,
  name: string,
  enabled: boolean,
): Promise<EnabledResult> {
  return await sql.begin(async (tx) => {
    const [job] = await tx<{ job_id: string; enabled: boolean }[]>`
      SELECT job_id, enabled FROM state.chain_sync_jobs
       WHERE org_id = ${orgId} AND name = ${name} FOR UPDATE`;
    if (!job) throw new JobNotFoundError(name);
    if (job.enabled === enabled) return { job_id: job.job_id, name, enabled, changed: false };
    await tx`
      UPDATE state.chain_sync_jobs SET enabled = ${enabled}, updated_at = now()
       WHERE job_id = ${job.job_id}`;
    return { job_id: job.job_id, name, enabled, changed: true };
  });
}

export interface RetryFailedOptions {
  /** Only this stream's failed ranges. */
  datasetKey?: string;
  /** Attempts the new cycle gets before the range fails again. Default 3. */
  attempts?: number;
  wakeupQueue?: string;
}

export interface RetryFailedResult {
  job_id: string;
  name: string;
  retried: {
    dataset_key: string;
    range_start: number;
    range_end: number;
    task_id: string;
    attempt: number;
  }[];
}

/**
 * Re-queues the failed ranges of a job: each range's task (same deterministic task_id) starts a
 * new attempt cycle — attempt + 1 with `attempts` more tries, a fresh wake-up for that attempt
 * (the outbox id is per attempt, so this cannot collide with the earlier ones) — and the range
 * is `scheduled` again, i.e. it takes an in-flight slot again (the planner adds no new ranges
 * to that stream until in-flight drops below max_inflight). Locks task rows before range rows,
 * the same order as the completion hooks.
 */
export async function retryFailedRanges(
  sql: Sql,
  orgId: string,
  name: string,
  options: RetryFailedOptions = {},
): Promise<RetryFailedResult> {
  const attempts = options.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 100) {
    throw new RangeError("attempts must be an integer in [1, 100]");
  }
  return await sql.begin(async (tx) => {
    const [job] = await tx<{ job_id: string }[]>`
      SELECT job_id FROM state.chain_sync_jobs
       WHERE org_id = ${orgId} AND name = ${name} FOR SHARE`;
    if (!job) throw new JobNotFoundError(name);
    const key = options.datasetKey ?? null;
    const failed = await tx<
      { task_id: string; dataset_key: string; range_start: string; range_end: string }[]
    >`
      SELECT r.task_id, r.dataset_key, r.range_start, r.range_end
        FROM state.chain_sync_scheduled_ranges r
        JOIN state.tasks t USING (task_id)
       WHERE r.job_id = ${job.job_id} AND r.status = 'failed'
         AND (${key}::text IS NULL OR r.dataset_key = ${key})
         AND t.status IN ('failed', 'canceled')
       ORDER BY r.dataset_key, r.range_start
       FOR UPDATE OF t, r`;
    const retried: RetryFailedResult["retried"] = [];
    for (const r of failed) {
      const [task] = await tx<{ attempt: number }[]>`
        UPDATE state.tasks
           SET status = 'queued', attempt = attempt + 1, max_attempts = attempt + ${attempts},
               lease_token = NULL, lease_expires_at = NULL, worker_id = NULL,
               next_retry_at = NULL, finished_at = NULL, updated_at = now()
         WHERE task_id = ${r.task_id}
        RETURNING attempt`;
      const attempt = task!.attempt;
      await recordTaskEvent(tx, r.task_id, attempt, "retry_requested", {
        by: "chain_sync.retry_failed",
        attempts,
      });
      await insertWakeup(tx, options.wakeupQueue ?? WAKEUP_QUEUE, r.task_id, attempt);
      await tx`
        UPDATE state.chain_sync_scheduled_ranges
           SET status = 'scheduled', retries = retries + 1, error_category = NULL,
               error_message = NULL, failed_at = NULL, updated_at = now()
         WHERE task_id = ${r.task_id}`;
      retried.push({
        dataset_key: r.dataset_key,
        range_start: Number(r.range_start),
        range_end: Number(r.range_end),
        task_id: r.task_id,
        attempt,
      });
    }
    return { job_id: job.job_id, name, retried };
  });
}
