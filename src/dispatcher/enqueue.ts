import { FatalError } from "../core/errors.ts";
import { isUuid, wakeupOutboxId } from "../core/ids.ts";
import { type TaskPayload, TaskPayloadSchema } from "../core/types.ts";
import { type Db, type Sql, type Tx, uuidArray } from "../state/index.ts";
import { WAKEUP_QUEUE } from "./lifecycle.ts";

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
  const [result] = await enqueueTasks(db, [input], { queue: input.queue });
  return { created: result!.created };
}

/**
 * enqueueTask for many tasks in one statement (the planner enqueues a whole stream's new ranges
 * at once): every task, its `enqueued` event and its attempt-1 wake-up, or — on any invalid
 * input or payload conflict — nothing. Results are in input order.
 */
export async function enqueueTasks(
  db: Db,
  inputs: Omit<EnqueueTaskInput, "queue">[],
  options: { queue?: string } = {},
): Promise<{ taskId: string; created: boolean }[]> {
  if (inputs.length === 0) return [];
  const queue = options.queue ?? WAKEUP_QUEUE;
  const seen = new Set<string>();
  const rows = inputs.map((input, ord) => {
    const row = checkInput(input, ord);
    if (seen.has(row.task_id)) {
      throw new FatalError("the same task_id twice in one enqueue", { category: "bad_request" });
    }
    seen.add(row.task_id);
    return row;
  });
  const run = async (tx: Tx) => {
    // One round trip: data-modifying CTEs insert tasks, then events and wake-ups for exactly the
    // tasks that were new. The final SELECT reads the snapshot from before the statement, so
    // `same` compares against a task that already existed (null for a new one).
    const result = await tx<{ task_id: string; created: boolean; same: boolean | null }[]>`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset(${tx.json(rows as never)})
          AS x(ord int, task_id uuid, kind text, max_attempts int, payload jsonb, outbox_id uuid)),
      inserted AS (
        INSERT INTO state.tasks (task_id, kind, status, attempt, max_attempts, payload)
        SELECT task_id, kind, 'queued', 1, max_attempts, payload FROM input ORDER BY ord
        ON CONFLICT (task_id) DO NOTHING
        RETURNING task_id),
      events AS (
        INSERT INTO state.task_events (task_id, attempt, event, detail)
        SELECT i.task_id, 1, 'enqueued', jsonb_build_object('max_attempts', i.max_attempts)
          FROM input i JOIN inserted USING (task_id)
         ORDER BY i.ord),
      wakeups AS (
        INSERT INTO state.outbox (outbox_id, topic, payload)
        SELECT i.outbox_id, ${queue}, jsonb_build_object('task_id', i.task_id)
          FROM input i JOIN inserted USING (task_id)
         ORDER BY i.ord
        ON CONFLICT (outbox_id) DO NOTHING)
      SELECT i.task_id, (n.task_id IS NOT NULL) AS created, (t.payload = i.payload) AS same
        FROM input i
        LEFT JOIN inserted n USING (task_id)
        LEFT JOIN state.tasks t ON t.task_id = i.task_id
       ORDER BY i.ord`;
    // `same` is null for a task this statement waited for (a concurrent enqueue committed it
    // after our snapshot was taken): compare those again with a fresh snapshot.
    const unseen = result.filter((r) => !r.created && r.same === null).map((r) => r.task_id);
    const recheck =
      unseen.length === 0
        ? []
        : await tx<{ same: boolean }[]>`
            SELECT t.payload = i.payload AS same
              FROM state.tasks t
              JOIN jsonb_to_recordset(${tx.json(rows as never)}) AS i(task_id uuid, payload jsonb)
                USING (task_id)
             WHERE t.task_id = ANY(${uuidArray(tx, unseen)})`;
    if (
      result.some((r) => !r.created && r.same === false) ||
      recheck.length !== unseen.length ||
      recheck.some((r) => !r.same)
    ) {
      // Thrown inside the transaction: the tasks inserted by this statement roll back too.
      throw new TaskConflictError("task already exists with a different payload");
    }
    return result.map((r) => ({ taskId: r.task_id, created: r.created }));
  };
  // A transaction scope has `savepoint`; a pool client has `begin`.
  if ("savepoint" in db) return await run(db as Tx);
  return await (db as Sql).begin(run);
}

interface TaskInsertRow {
  ord: number;
  task_id: string;
  kind: string;
  max_attempts: number;
  payload: TaskPayload;
  outbox_id: string;
}

function checkInput(input: Omit<EnqueueTaskInput, "queue">, ord: number): TaskInsertRow {
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
  return {
    ord,
    task_id: input.taskId,
    kind: parsed.data.operator,
    max_attempts: maxAttempts,
    payload: parsed.data,
    outbox_id: wakeupOutboxId(input.taskId, 1),
  };
}
