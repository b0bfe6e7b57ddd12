import { FatalError } from "../core/errors.ts";
import { isUuid } from "../core/ids.ts";
import { TaskPayloadSchema } from "../core/types.ts";
import { type Db, recordTaskEvent, type Sql, type Tx } from "../state/index.ts";
import { insertWakeup, WAKEUP_QUEUE } from "./lifecycle.ts";

export interface EnqueueTaskInput {
  taskId: string;
  payload: unknown;
  maxAttempts?: number;
  /** Wake-up queue; default `task_wakeup`. */
  queue?: string;
}

export class TaskConflictError extends FatalError {
  constructor(message: string) {
    super(message, { category: "task_conflict" });
  }
}

/**
 * Creates a queued task and its first wake-up in one transaction (the outbox makes the wake-up
 * durable even if this process dies right after). Idempotent: re-enqueueing the same id with
 * the same payload is a no-op (`created: false`); a different payload is a TaskConflictError.
 * Pass a transaction to enqueue as part of a larger one (the chain_sync planner does).
 */
export async function enqueueTask(db: Db, input: EnqueueTaskInput): Promise<{ created: boolean }> {
  if (!isUuid(input.taskId)) {
    throw new FatalError("task_id must be a lowercase hyphenated UUID", {
      category: "bad_request",
    });
  }
  const parsed = TaskPayloadSchema.safeParse(input.payload);
  if (!parsed.success) {
    const where = parsed.error.issues[0];
    throw new FatalError(
      `invalid task payload: ${where ? `${where.path.join(".") || "(root)"}: ${where.message}` : "rejected"}`,
      { category: "bad_request" },
    );
  }
  const maxAttempts = input.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) {
    throw new FatalError("maxAttempts must be an integer in [1, 100]", { category: "bad_request" });
  }
  const payload = parsed.data;
  const run = async (tx: Tx) => {
    const inserted = await tx`
      INSERT INTO state.tasks (task_id, kind, status, attempt, max_attempts, payload)
      VALUES (${input.taskId}, ${payload.operator}, 'queued', 1, ${maxAttempts},
              ${tx.json(payload as never)})
      ON CONFLICT (task_id) DO NOTHING
      RETURNING 1`;
    if (inserted.length === 0) {
      const [existing] = await tx<{ same: boolean }[]>`
        SELECT payload = ${tx.json(payload as never)} AS same
          FROM state.tasks WHERE task_id = ${input.taskId}`;
      if (!existing?.same) {
        throw new TaskConflictError("task already exists with a different payload");
      }
      return { created: false };
    }
    await recordTaskEvent(tx, input.taskId, 1, "enqueued", { max_attempts: maxAttempts });
    await insertWakeup(tx, input.queue ?? WAKEUP_QUEUE, input.taskId, 1);
    return { created: true };
  };
  // A transaction scope has `savepoint`; a pool client has `begin`.
  if ("savepoint" in db) return await run(db as Tx);
  return await (db as Sql).begin(run);
}
