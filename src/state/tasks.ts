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
