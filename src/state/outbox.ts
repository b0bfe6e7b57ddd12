import type { Db, Sql } from "./connect.ts";
import type { PgQueue } from "./pgqueue.ts";

/**
 * Transactional outbox (trace-rust §2.4). Producers write an outbox row in the same transaction
 * as the state change it announces; the drain moves due rows into the pgqueue. Because the queue
 * lives in the same database, the drain publishes and marks a row sent in one transaction, so a
 * crash anywhere loses nothing and a row is enqueued once (the queue message id is the outbox id).
 */

export interface OutboxEntry {
  outboxId: string;
  topic: string;
  payload: unknown;
  /** Not before this delay from now. Default 0. */
  delayMs?: number;
}

/** Inserts an outbox row; a repeat with the same deterministic id is a no-op. */
export async function insertOutbox(tx: Db, entry: OutboxEntry): Promise<boolean> {
  const rows = await tx`
    INSERT INTO state.outbox (outbox_id, topic, payload, available_at)
    VALUES (${entry.outboxId}, ${entry.topic}, ${tx.json(entry.payload as never)},
            now() + make_interval(secs => ${(entry.delayMs ?? 0) / 1000}))
    ON CONFLICT (outbox_id) DO NOTHING
    RETURNING 1`;
  return rows.length > 0;
}

export interface DrainOptions {
  batchSize?: number;
  /** Attempts before a row is marked dead (it then needs an operator). Default 20. */
  maxAttempts?: number;
}

export interface DrainResult {
  sent: number;
  failed: number;
}

/**
 * One drain tick. Rows are locked with SKIP LOCKED, so several dispatchers drain disjoint rows.
 * A row whose publish fails is retried later with its own backoff and eventually marked dead,
 * without blocking the rest of the batch (each row publishes inside a savepoint).
 */
export async function drainOutboxOnce(
  sql: Sql,
  queue: PgQueue,
  options: DrainOptions = {},
): Promise<DrainResult> {
  const batchSize = options.batchSize ?? 50;
  const maxAttempts = options.maxAttempts ?? 20;
  return await sql.begin(async (tx) => {
    const rows = await tx<
      { outbox_id: string; topic: string; payload: unknown; attempts: number }[]
    >`
      SELECT outbox_id, topic, payload, attempts FROM state.outbox
       WHERE status = 'pending' AND available_at <= now()
       ORDER BY available_at, created_at
       LIMIT ${batchSize}
       FOR UPDATE SKIP LOCKED`;
    let sent = 0;
    let failed = 0;
    for (const row of rows) {
      try {
        await tx.savepoint(async (sp) => {
          await queue.publish(row.topic, row.payload, { messageId: row.outbox_id, tx: sp });
          await sp`
            UPDATE state.outbox SET status = 'sent', attempts = attempts + 1, updated_at = now()
             WHERE outbox_id = ${row.outbox_id}`;
        });
        sent++;
      } catch (err) {
        failed++;
        const attempts = row.attempts + 1;
        // 1 s → 5 min exponential backoff (trace-rust §8 knobs).
        const delaySecs = Math.min(300, 2 ** Math.min(attempts - 1, 20));
        const message = (err instanceof Error ? err.message : String(err)).slice(0, 500);
        await tx`
          UPDATE state.outbox
             SET attempts = ${attempts},
                 status = CASE WHEN ${attempts} >= ${maxAttempts} THEN 'dead' ELSE 'pending' END,
                 available_at = now() + make_interval(secs => ${delaySecs}),
                 last_error = ${message},
                 updated_at = now()
           WHERE outbox_id = ${row.outbox_id}`;
      }
    }
    return { sent, failed };
  });
}
