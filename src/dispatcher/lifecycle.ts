import { randomUUID } from "node:crypto";
import { wakeupOutboxId } from "../core/ids.ts";
import type { DatasetPublication, TaskOutcome, TaskPayload } from "../core/types.ts";
import {
  DatasetVersionConflictError,
  type Db,
  insertOutbox,
  MAX_ERROR_MESSAGE,
  recordTaskEvent,
  registerDatasetVersion,
  type Sql,
  type TaskRow,
  type Tx,
} from "../state/index.ts";
import { type RetryPolicy, retryDelayMs } from "./backoff.ts";
import { checkPublications } from "./completion.ts";
import type { TaskOutcomeHooks } from "./hooks.ts";

/**
 * The leased task lifecycle (trace-rust §2.7, without its §9 gaps). Every transition is one
 * transaction over a locked task row, so concurrent claimers, completions, reapers and retry
 * schedulers (in any number of dispatcher processes) serialise on the row.
 *
 *   queued ─claim→ running ─success→ completed
 *                     │ retryable / lease expired, attempt < max → queued (attempt+1, backoff)
 *                     │ retryable / lease expired, attempt = max → failed
 *                     └ fatal → failed
 */

export const WAKEUP_QUEUE = "task_wakeup";

export interface LifecycleConfig {
  leaseMs: number;
  retry: RetryPolicy;
  hooks: TaskOutcomeHooks;
  wakeupQueue: string;
  random?: () => number;
}

const secs = (ms: number) => ms / 1000;

// ---------------------------------------------------------------------------------------------
// Claim

export type ClaimResult =
  | { kind: "claimed"; task: TaskRow }
  | { kind: "not_found" }
  | { kind: "leased" }
  | { kind: "not_due" }
  | { kind: "not_claimable" };

/** Leases a queued, due task. Never creates a task (trace-rust §9.1). */
export async function claimTask(
  sql: Sql,
  cfg: LifecycleConfig,
  taskId: string,
  workerId: string | null,
): Promise<ClaimResult> {
  const leaseToken = randomUUID();
  // One round trip for the common case: the guarded UPDATE wins or loses atomically (a
  // concurrent claimer blocks on the row lock, then re-checks status and finds 'running').
  const [task] = await sql<TaskRow[]>`
    WITH claimed AS (
      UPDATE state.tasks
         SET status = 'running', lease_token = ${leaseToken},
             lease_expires_at = now() + make_interval(secs => ${secs(cfg.leaseMs)}),
             worker_id = ${workerId}, next_retry_at = NULL,
             started_at = coalesce(started_at, now()), updated_at = now()
       WHERE task_id = ${taskId} AND status = 'queued'
         AND (next_retry_at IS NULL OR next_retry_at <= now())
      RETURNING *),
    ev AS (
      INSERT INTO state.task_events (task_id, attempt, event, detail)
      SELECT task_id, attempt, 'claimed', jsonb_build_object('worker_id', worker_id::text)
        FROM claimed)
    SELECT * FROM claimed`;
  if (task) return { kind: "claimed", task };
  const [row] = await sql<{ status: string; due: boolean }[]>`
    SELECT status, (next_retry_at IS NULL OR next_retry_at <= now()) AS due
      FROM state.tasks WHERE task_id = ${taskId}`;
  if (!row) return { kind: "not_found" };
  if (row.status === "running") return { kind: "leased" };
  if (row.status === "queued") return { kind: row.due ? "leased" : "not_due" };
  return { kind: "not_claimable" };
}

// ---------------------------------------------------------------------------------------------
// Heartbeat

export interface Fence {
  taskId: string;
  attempt: number;
  leaseToken: string;
}

/** Extends a live lease. An expired lease cannot be revived: the reaper owns it now. */
export async function heartbeatTask(
  sql: Sql,
  cfg: LifecycleConfig,
  fence: Fence,
): Promise<Date | undefined> {
  const [row] = await sql<{ lease_expires_at: Date }[]>`
    UPDATE state.tasks
       SET lease_expires_at = now() + make_interval(secs => ${secs(cfg.leaseMs)}), updated_at = now()
     WHERE task_id = ${fence.taskId} AND attempt = ${fence.attempt}
       AND lease_token = ${fence.leaseToken} AND status = 'running' AND lease_expires_at > now()
    RETURNING lease_expires_at`;
  return row?.lease_expires_at;
}

// ---------------------------------------------------------------------------------------------
// Complete

export interface CompletionRequest extends Fence {
  outcome: TaskOutcome;
  publications: unknown[];
  error?: { category: string; message: string };
}

export type CompletionResult =
  | { kind: "ok"; status: TaskRow["status"]; created?: boolean; nextAttemptAt?: Date }
  | { kind: "not_found" }
  | { kind: "stale" }
  | { kind: "invalid"; error: string }
  | { kind: "conflict"; error: string };

class Rejection extends Error {
  constructor(readonly result: CompletionResult) {
    super("completion rejected");
  }
}

/**
 * Applies a fenced completion. Every rejection rolls the transaction back, so a rejected
 * completion changes nothing (trace-rust §1.3).
 */
export async function completeTask(
  sql: Sql,
  cfg: LifecycleConfig,
  req: CompletionRequest,
): Promise<CompletionResult> {
  try {
    return await sql.begin(async (tx) => {
      const [task] = await tx<TaskRow[]>`
        SELECT * FROM state.tasks WHERE task_id = ${req.taskId} FOR UPDATE`;
      if (!task) return { kind: "not_found" } as const;
      if (
        task.status === "completed" &&
        req.outcome === "success" &&
        task.attempt === req.attempt &&
        task.lease_token === req.leaseToken
      ) {
        return await repeatSuccess(tx, task, req);
      }
      if (
        task.status !== "running" ||
        task.attempt !== req.attempt ||
        task.lease_token !== req.leaseToken
      ) {
        return { kind: "stale" } as const;
      }
      const check = checkPublications(req.outcome, task.payload, req.publications);
      if (!check.ok) return { kind: "invalid", error: check.error } as const;

      if (req.outcome === "success") {
        return await succeed(tx, cfg, task, check.payload, check.publication!);
      }
      const error = req.error ?? { category: "unknown", message: "" };
      const status = await endAttempt(tx, cfg, task, {
        category: error.category,
        message: error.message,
        retryable: req.outcome === "retryable_error",
      });
      return { kind: "ok", ...status } as const;
    });
  } catch (err) {
    if (err instanceof Rejection) return err.result;
    throw err;
  }
}

/**
 * The same lease retrying its successful completion (its first response was lost): answered
 * from the registry, so an identical publication is 200 without a second row and a divergent
 * one is a conflict. Nothing else changes and hooks do not run again.
 */
async function repeatSuccess(
  tx: Tx,
  task: TaskRow,
  req: CompletionRequest,
): Promise<CompletionResult> {
  const check = checkPublications("success", task.payload, req.publications);
  if (!check.ok) return { kind: "invalid", error: check.error };
  const created = await register(tx, task, check.payload, check.publication!);
  if (created) {
    // The version of a completed task is missing (purged?): do not resurrect it silently.
    throw new Rejection({ kind: "conflict", error: "dataset version conflict" });
  }
  return { kind: "ok", status: "completed", created: false };
}

async function register(
  tx: Tx,
  task: TaskRow,
  payload: TaskPayload,
  publication: DatasetPublication,
): Promise<boolean> {
  try {
    const { created } = await registerDatasetVersion(tx, publication, {
      chainId: payload.chain_id,
      taskId: task.task_id,
    });
    return created;
  } catch (err) {
    if (err instanceof DatasetVersionConflictError) {
      // Thrown (not returned) so that sql.begin rolls back anything written so far.
      throw new Rejection({ kind: "conflict", error: "dataset version conflict" });
    }
    throw err;
  }
}

async function succeed(
  tx: Tx,
  cfg: LifecycleConfig,
  task: TaskRow,
  payload: TaskPayload,
  publication: DatasetPublication,
): Promise<CompletionResult> {
  const created = await register(tx, task, payload, publication);
  const [done] = await tx<TaskRow[]>`
    UPDATE state.tasks
       SET status = 'completed', lease_expires_at = NULL,
           finished_at = now(), updated_at = now()
     WHERE task_id = ${task.task_id}
    RETURNING *`;
  await recordTaskEvent(tx, task.task_id, task.attempt, "completed", {
    dataset_version: publication.dataset_version,
    registered: created,
  });
  await cfg.hooks.onTaskCompleted?.(tx, done!, publication);
  return { kind: "ok", status: "completed", created };
}

// ---------------------------------------------------------------------------------------------
// Failure, retry and exhaustion: the one place retry policy is applied.

export interface AttemptFailure {
  category: string;
  message: string;
  retryable: boolean;
}

/**
 * Ends the current attempt of a locked, running task: back to queued with backoff while
 * attempts remain and the failure is retryable, otherwise failed for good (and the hook runs).
 */
export async function endAttempt(
  tx: Tx,
  cfg: LifecycleConfig,
  task: TaskRow,
  failure: AttemptFailure,
): Promise<{ status: TaskRow["status"]; nextAttemptAt?: Date }> {
  const category = failure.category.slice(0, 64);
  const message = failure.message.slice(0, MAX_ERROR_MESSAGE);
  if (failure.retryable && task.attempt < task.max_attempts) {
    const delayMs = retryDelayMs(cfg.retry, task.attempt, cfg.random);
    const [row] = await tx<{ next_retry_at: Date }[]>`
      UPDATE state.tasks
         SET status = 'queued', attempt = attempt + 1, lease_token = NULL,
             lease_expires_at = NULL, worker_id = NULL,
             next_retry_at = now() + make_interval(secs => ${secs(delayMs)}),
             last_error_category = ${category}, last_error_message = ${message},
             updated_at = now()
       WHERE task_id = ${task.task_id} AND attempt = ${task.attempt}
      RETURNING next_retry_at`;
    await recordTaskEvent(tx, task.task_id, task.attempt, "retry_scheduled", {
      category,
      delay_ms: delayMs,
      next_attempt: task.attempt + 1,
    });
    return { status: "queued", nextAttemptAt: row!.next_retry_at };
  }
  const [row] = await tx<TaskRow[]>`
    UPDATE state.tasks
       SET status = 'failed', lease_token = NULL, lease_expires_at = NULL,
           last_error_category = ${category}, last_error_message = ${message},
           finished_at = now(), updated_at = now()
     WHERE task_id = ${task.task_id} AND attempt = ${task.attempt}
    RETURNING *`;
  await recordTaskEvent(tx, task.task_id, task.attempt, "failed", {
    category,
    exhausted: failure.retryable,
  });
  await cfg.hooks.onTaskFailed?.(tx, row!, { category, message });
  return { status: "failed" };
}

/**
 * Cancels a queued or running task (operator action, e.g. a paused job). A running attempt's
 * lease is revoked, so its later heartbeat / completion gets 409. Returns false if the task is
 * unknown or already ended.
 */
export async function cancelTask(
  sql: Sql,
  cfg: LifecycleConfig,
  taskId: string,
  reason = "canceled by operator",
): Promise<boolean> {
  return await sql.begin(async (tx) => {
    const [row] = await tx<TaskRow[]>`
      UPDATE state.tasks
         SET status = 'canceled', lease_token = NULL, lease_expires_at = NULL,
             next_retry_at = NULL, finished_at = now(), updated_at = now(),
             last_error_category = 'canceled', last_error_message = ${reason.slice(0, MAX_ERROR_MESSAGE)}
       WHERE task_id = ${taskId} AND status IN ('queued', 'running')
      RETURNING *`;
    if (!row) return false;
    await recordTaskEvent(tx, taskId, row.attempt, "canceled", {});
    await cfg.hooks.onTaskFailed?.(tx, row, { category: "canceled", message: reason });
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Background ticks (each one transaction; SKIP LOCKED so dispatchers take disjoint rows)

/** Lease reaper: running tasks whose lease expired lose the attempt (a retryable failure). */
export async function reapExpiredLeases(
  sql: Sql,
  cfg: LifecycleConfig,
  batchSize = 50,
): Promise<number> {
  return await sql.begin(async (tx) => {
    const tasks = await tx<TaskRow[]>`
      SELECT * FROM state.tasks
       WHERE status = 'running' AND lease_expires_at < now()
       ORDER BY lease_expires_at
       LIMIT ${batchSize}
       FOR UPDATE SKIP LOCKED`;
    for (const task of tasks) {
      await endAttempt(tx, cfg, task, {
        category: "lease_expired",
        message: "the worker stopped heartbeating before the lease expired",
        retryable: true,
      });
    }
    return tasks.length;
  });
}

/**
 * Retry scheduler: queued tasks whose backoff ended get their wake-up for the new attempt.
 * The outbox id is deterministic per (task, attempt), so a repeat cannot double-enqueue.
 */
export async function scheduleDueRetries(
  sql: Sql,
  cfg: LifecycleConfig,
  batchSize = 50,
): Promise<number> {
  return await sql.begin(async (tx) => {
    const due = await tx<{ task_id: string; attempt: number }[]>`
      UPDATE state.tasks SET next_retry_at = NULL, updated_at = now()
       WHERE task_id IN (
         SELECT task_id FROM state.tasks
          WHERE status = 'queued' AND next_retry_at <= now()
          ORDER BY next_retry_at
          LIMIT ${batchSize}
          FOR UPDATE SKIP LOCKED)
      RETURNING task_id, attempt`;
    for (const t of due) {
      await insertWakeup(tx, cfg.wakeupQueue, t.task_id, t.attempt);
    }
    return due.length;
  });
}

export async function insertWakeup(
  tx: Db,
  queue: string,
  taskId: string,
  attempt: number,
): Promise<boolean> {
  return await insertOutbox(tx, {
    outboxId: wakeupOutboxId(taskId, attempt),
    topic: queue,
    payload: { task_id: taskId },
  });
}
