import type { TaskOutcomeHooks } from "../dispatcher/hooks.ts";
import type { Tx } from "../state/index.ts";
import { boundedMessage } from "./errors.ts";
import { recordError } from "./planner.ts";

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
   * longer counts as in flight, so it cannot starve the stream (trace-rust §9.3); the stream and
   * job record the error until an operator retries it (retry-failed) or re-applies.
   */
  async onTaskFailed(tx, task, error) {
    await markRangeFailed(tx, task.task_id, error);
  },
};

export async function markRangeFailed(
  tx: Tx,
  taskId: string,
  error: { category: string; message: string },
): Promise<boolean> {
  const [range] = await tx<
    { job_id: string; dataset_key: string; range_start: string; range_end: string }[]
  >`
    UPDATE state.chain_sync_scheduled_ranges
       SET status = 'failed', failed_at = now(), updated_at = now(),
           error_category = ${error.category}, error_message = ${boundedMessage(error.message)}
     WHERE task_id = ${taskId} AND status = 'scheduled'
    RETURNING job_id, dataset_key, range_start, range_end`;
  if (!range) return false;
  await recordError(
    tx,
    range.job_id,
    range.dataset_key,
    "range_failed",
    `range [${range.range_start}, ${range.range_end}) failed: ${error.category}: ${error.message}`,
  );
  return true;
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
