import type { TaskOutcomeHooks } from "../dispatcher/hooks.ts";
import type { Tx } from "../state/index.ts";
import { boundedMessage } from "./errors.ts";

/**
 * Range completion, run by the dispatcher inside the transaction that ends a task, so a range's
 * status and its task's status commit together. A task that is not a chain_sync range (no row
 * carries its task_id) is left alone.
 */
export const chainSyncHooks: Required<TaskOutcomeHooks> = {
  async onTaskCompleted(tx, task) {
    await tx`
      UPDATE state.chain_sync_scheduled_ranges
         SET status = 'completed', completed_at = now(), updated_at = now(),
             error_category = NULL, error_message = NULL
       WHERE task_id = ${task.task_id} AND status <> 'completed'`;
  },

  /**
   * Failed for good (fatal, retries exhausted, cancelled): the range becomes `failed`, which no
   * longer counts as in flight, so it cannot starve the stream (trace-rust §9.3). Status reports
   * it (with the task's error category) from the range row until an operator retries it.
   */
  async onTaskFailed(tx, task, error) {
    await markRangeFailed(tx, task.task_id, error);
  },
};

/**
 * Only the range row is written: these hooks run inside task transactions (a lease reaper ends
 * up to a batch of tasks of many jobs in one), and writing the stream and job rows there too made
 * two reapers lock them in opposite orders and deadlock.
 */
export async function markRangeFailed(
  tx: Tx,
  taskId: string,
  error: { category: string; message: string },
): Promise<boolean> {
  const rows = await tx`
    UPDATE state.chain_sync_scheduled_ranges
       SET status = 'failed', failed_at = now(), updated_at = now(),
           error_category = ${error.category}, error_message = ${boundedMessage(error.message)}
     WHERE task_id = ${taskId} AND status = 'scheduled'
    RETURNING 1`;
  return rows.length > 0;
}

/** Runs chain_sync's hooks, then the caller's own (same transaction). */
export function composeHooks(extra: TaskOutcomeHooks | undefined): TaskOutcomeHooks {
  if (!extra) return chainSyncHooks;
  return {
    async onTaskCompleted(tx, task, publication) {
      await chainSyncHooks.onTaskCompleted(tx, task, publication);
      await extra.onTaskCompleted?.(tx, task, publication);
    },
    async onTaskFailed(tx, task, error) {
      await chainSyncHooks.onTaskFailed(tx, task, error);
      await extra.onTaskFailed?.(tx, task, error);
    },
  };
}
