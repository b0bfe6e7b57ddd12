import type { Db } from "./connect.ts";

/** Task rows as the dispatcher and status views see them (state.tasks). */

export type TaskStatus = "queued" | "running" | "completed" | "failed" | "canceled";

export interface TaskRow {
  task_id: string;
  kind: string;
  status: TaskStatus;
  attempt: number;
  max_attempts: number;
  lease_token: string | null;
  lease_expires_at: Date | null;
  worker_id: string | null;
  next_retry_at: Date | null;
  payload: unknown;
  last_error_category: string | null;
  last_error_message: string | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface TaskEventRow {
  task_id: string;
  attempt: number;
  event: string;
  detail: Record<string, unknown>;
  at: Date;
}

/** Longest error message stored per task (the column has a CHECK on it too). */
export const MAX_ERROR_MESSAGE = 2000;

export async function getTask(db: Db, taskId: string): Promise<TaskRow | undefined> {
  const [row] = await db<TaskRow[]>`SELECT * FROM state.tasks WHERE task_id = ${taskId}`;
  return row;
}

export async function listTaskEvents(db: Db, taskId: string): Promise<TaskEventRow[]> {
  return await db<TaskEventRow[]>`
    SELECT task_id, attempt, event, detail, at FROM state.task_events
     WHERE task_id = ${taskId} ORDER BY at, event_id`;
}

export async function recordTaskEvent(
  db: Db,
  taskId: string,
  attempt: number,
  event: string,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db`
    INSERT INTO state.task_events (task_id, attempt, event, detail)
    VALUES (${taskId}, ${attempt}, ${event}, ${db.json(detail as never)})`;
}

/** What a status view shows per task (no payload, no lease token). */
export interface TaskSummary {
  task_id: string;
  kind: string;
  status: TaskStatus;
  attempt: number;
  max_attempts: number;
  last_error_category: string | null;
  worker_id: string | null;
  next_retry_at: Date | null;
  lease_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const TASK_STATUSES: readonly TaskStatus[] = [
  "queued",
  "running",
  "completed",
  "failed",
  "canceled",
];

/**
 * Tasks for a status view, most recently changed first (served by tasks_status_updated_idx when
 * filtered by status). `limit` is 1..1000, default 100.
 */
export async function listTasks(
  db: Db,
  options: { status?: TaskStatus; limit?: number } = {},
): Promise<TaskSummary[]> {
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new RangeError("limit must be an integer in [1, 1000]");
  }
  const status = options.status ?? null;
  if (status !== null && !TASK_STATUSES.includes(status)) {
    throw new RangeError(`status must be one of ${TASK_STATUSES.join(", ")}`);
  }
  // Two statements rather than `$1 IS NULL OR status = $1`: a generic prepared plan could not
  // use the (status, updated_at) index for the latter.
  if (status === null) {
    return await db<TaskSummary[]>`
      SELECT task_id, kind, status, attempt, max_attempts, last_error_category, worker_id,
             next_retry_at, lease_expires_at, created_at, updated_at, started_at, finished_at
        FROM state.tasks
       ORDER BY updated_at DESC, task_id
       LIMIT ${limit}`;
  }
  return await db<TaskSummary[]>`
    SELECT task_id, kind, status, attempt, max_attempts, last_error_category, worker_id,
           next_retry_at, lease_expires_at, created_at, updated_at, started_at, finished_at
      FROM state.tasks
     WHERE status = ${status}
     ORDER BY updated_at DESC, task_id
     LIMIT ${limit}`;
}
