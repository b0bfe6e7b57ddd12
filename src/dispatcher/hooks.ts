import type { DatasetPublication } from "../core/types.ts";
import type { TaskRow, Tx } from "../state/index.ts";

/**
 * Extension points called inside the transaction that ends a task, so whatever they write
 * commits or rolls back together with the task's final state. chain_sync (issue #6) marks its
 * scheduled ranges completed / failed here; a range must never hold an in-flight slot after its
 * task ended (trace-rust §9.3). A hook that throws aborts the completion (HTTP 500, nothing
 * written), which is the safe direction.
 */
export interface TaskOutcomeHooks {
  /** The task completed successfully; `publication` is registered in the same transaction. */
  onTaskCompleted?(tx: Tx, task: TaskRow, publication: DatasetPublication): Promise<void>;
  /**
   * The task ended without success for good: a fatal error, retries exhausted (including
   * expired leases on the last attempt), or cancellation.
   */
  onTaskFailed?(tx: Tx, task: TaskRow, error: { category: string; message: string }): Promise<void>;
}
