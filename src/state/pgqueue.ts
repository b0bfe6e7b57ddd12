import { randomUUID } from "node:crypto";
import { FatalError } from "../core/errors.ts";
import { isUuid } from "../core/ids.ts";
import type { Db, Sql } from "./connect.ts";

/**
 * A small durable queue in PostgreSQL (trace-rust §2.3), with what the reference lacked:
 * dead-lettering after `maxDeliveries` receives. Delivery is at-least-once: a received message
 * that is neither acked nor requeued becomes visible again when its visibility timeout ends.
 * The queue only wakes workers; PostgreSQL task state stays the source of truth.
 */

export interface QueueMessage<T = unknown> {
  messageId: string;
  queue: string;
  payload: T;
  /** How many times this message has been received, this delivery included. */
  deliveries: number;
}

export interface DeadLetter {
  messageId: string;
  queue: string;
  payload: unknown;
  deliveries: number;
  deadAt: Date;
}

export interface PgQueueOptions {
  /** Receives after which an unacked message moves to state.queue_dead_letters. Default 10. */
  maxDeliveries?: number;
}

const QUEUE_NAME_RE = /^[a-z0-9_.:-]{1,128}$/;

function checkQueue(queue: string): void {
  if (!QUEUE_NAME_RE.test(queue)) {
    throw new FatalError(`invalid queue name: must match ${QUEUE_NAME_RE}`, {
      category: "bad_request",
    });
  }
}

function checkMessageId(id: string): void {
  if (!isUuid(id)) {
    throw new FatalError("message id must be a lowercase hyphenated UUID", {
      category: "bad_request",
    });
  }
}

function checkMs(label: string, ms: number): void {
  if (!Number.isInteger(ms) || ms < 0 || ms > 7 * 24 * 3600 * 1000) {
    throw new FatalError(`${label} must be an integer number of milliseconds in [0, 7 days]`, {
      category: "bad_request",
    });
  }
}

export class PgQueue {
  readonly maxDeliveries: number;

  constructor(
    private readonly sql: Sql,
    options: PgQueueOptions = {},
  ) {
    this.maxDeliveries = options.maxDeliveries ?? 10;
    if (!Number.isInteger(this.maxDeliveries) || this.maxDeliveries < 1) {
      throw new FatalError("maxDeliveries must be a positive integer", { category: "config" });
    }
  }

  /**
   * Adds a message. `messageId` makes the publish idempotent (a repeat is a no-op while the
   * first copy is still queued); `tx` publishes inside the caller's transaction, which is how the
   * outbox drain enqueues and marks a row sent atomically.
   */
  async publish(
    queue: string,
    payload: unknown,
    options: { delayMs?: number; messageId?: string; tx?: Db } = {},
  ): Promise<string> {
    checkQueue(queue);
    const delayMs = options.delayMs ?? 0;
    checkMs("delayMs", delayMs);
    const db = options.tx ?? this.sql;
    const messageId = options.messageId ?? randomUUID();
    checkMessageId(messageId);
    await db`
      INSERT INTO state.queue_messages (message_id, queue_name, payload, available_at)
      VALUES (${messageId}, ${queue}, ${db.json(payload as never)},
              now() + make_interval(secs => ${delayMs / 1000}))
      ON CONFLICT (message_id) DO NOTHING`;
    return messageId;
  }

  /**
   * Takes up to `max` visible messages and hides them for `visibilityMs`. Messages that were
   * already received `maxDeliveries` times are moved to the dead-letter table instead.
   */
  async receive<T = unknown>(
    queue: string,
    options: { max?: number; visibilityMs: number },
  ): Promise<QueueMessage<T>[]> {
    checkQueue(queue);
    const max = options.max ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > 1000) {
      throw new FatalError("max must be an integer in [1, 1000]", { category: "bad_request" });
    }
    checkMs("visibilityMs", options.visibilityMs);
    await this.deadLetterExhausted(queue);
    const rows = await this.sql<
      { message_id: string; queue_name: string; payload: T; deliveries: number }[]
    >`
      UPDATE state.queue_messages m
         SET invisible_until = now() + make_interval(secs => ${options.visibilityMs / 1000}),
             deliveries = m.deliveries + 1
       WHERE m.message_id IN (
         SELECT message_id FROM state.queue_messages
          WHERE queue_name = ${queue}
            AND available_at <= now()
            AND (invisible_until IS NULL OR invisible_until <= now())
            AND deliveries < ${this.maxDeliveries}
          ORDER BY available_at, created_at
          LIMIT ${max}
          FOR UPDATE SKIP LOCKED)
      RETURNING m.message_id, m.queue_name, m.payload, m.deliveries`;
    return rows.map((r) => ({
      messageId: r.message_id,
      queue: r.queue_name,
      payload: r.payload,
      deliveries: r.deliveries,
    }));
  }

  private async deadLetterExhausted(queue: string): Promise<void> {
    await this.sql`
      WITH dead AS (
        DELETE FROM state.queue_messages
         WHERE message_id IN (
           SELECT message_id FROM state.queue_messages
            WHERE queue_name = ${queue}
              AND available_at <= now()
              AND (invisible_until IS NULL OR invisible_until <= now())
              AND deliveries >= ${this.maxDeliveries}
            FOR UPDATE SKIP LOCKED)
        RETURNING message_id, queue_name, payload, deliveries, created_at)
      INSERT INTO state.queue_dead_letters
             (message_id, queue_name, payload, deliveries, first_created_at)
      SELECT message_id, queue_name, payload, deliveries, created_at FROM dead
      ON CONFLICT (message_id) DO NOTHING`;
  }

  /** Deletes a message for good. Returns false if it was already gone. */
  async ack(messageId: string): Promise<boolean> {
    checkMessageId(messageId);
    const rows = await this.sql`
      DELETE FROM state.queue_messages WHERE message_id = ${messageId} RETURNING 1`;
    return rows.length > 0;
  }

  /** Makes a received message visible again after `delayMs`. Returns false if it is gone. */
  async requeue(messageId: string, delayMs: number): Promise<boolean> {
    checkMessageId(messageId);
    checkMs("delayMs", delayMs);
    const rows = await this.sql`
      UPDATE state.queue_messages
         SET available_at = now() + make_interval(secs => ${delayMs / 1000}),
             invisible_until = NULL
       WHERE message_id = ${messageId}
      RETURNING 1`;
    return rows.length > 0;
  }

  /** Messages of a queue not yet acked (visible or not); for status views and tests. */
  async depth(queue: string): Promise<number> {
    checkQueue(queue);
    const [row] = await this.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM state.queue_messages WHERE queue_name = ${queue}`;
    return row?.n ?? 0;
  }

  async deadLetters(queue: string): Promise<DeadLetter[]> {
    checkQueue(queue);
    const rows = await this.sql<
      {
        message_id: string;
        queue_name: string;
        payload: unknown;
        deliveries: number;
        dead_at: Date;
      }[]
    >`
      SELECT message_id, queue_name, payload, deliveries, dead_at
        FROM state.queue_dead_letters WHERE queue_name = ${queue} ORDER BY dead_at, message_id`;
    return rows.map((r) => ({
      messageId: r.message_id,
      queue: r.queue_name,
      payload: r.payload,
      deliveries: r.deliveries,
      deadAt: r.dead_at,
    }));
  }
}
