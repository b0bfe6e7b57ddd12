import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { testDatabase } from "../../test/support/postgres.ts";
import { connect, type Sql } from "./connect.ts";
import { migrate } from "./migrate.ts";
import { PgQueue } from "./pgqueue.ts";

const db = await testDatabase("pgqueue");
let sql: Sql;

before(async () => {
  sql = connect(db.url, { max: 8 });
  await migrate(sql);
});
after(async () => {
  await sql.end();
});

/** Polls until `fn` returns a non-empty list (no wall-clock assertions, only an upper bound). */
async function until<T>(fn: () => Promise<T[]>, timeoutMs = 10_000): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await fn();
    if (got.length > 0 || Date.now() > deadline) return got;
    await sleep(20);
  }
}

test("publish, receive, ack and requeue with delay (trace-rust §6.2)", async () => {
  const q = new PgQueue(sql);
  const a = await q.publish("t_basic", { n: 1 });
  const b = await q.publish("t_basic", { n: 2 });
  const got = await q.receive<{ n: number }>("t_basic", { max: 10, visibilityMs: 60_000 });
  assert.deepEqual(got.map((m) => m.messageId).sort(), [a, b].sort());
  assert.ok(got.every((m) => m.deliveries === 1));
  assert.equal(await q.ack(a), true);
  assert.equal(await q.ack(a), false);
  // Delays are long enough that "not visible yet" holds on a loaded machine, short enough to
  // wait out.
  assert.equal(await q.requeue(b, 1500), true);
  // Requeued with a delay: not visible right away, the same message later.
  assert.deepEqual(await q.receive("t_basic", { max: 10, visibilityMs: 60_000 }), []);
  const again = await until(() => q.receive("t_basic", { max: 10, visibilityMs: 60_000 }));
  assert.equal(again.length, 1);
  assert.equal(again[0]!.messageId, b);
  assert.equal(again[0]!.deliveries, 2);
  assert.deepEqual(again[0]!.payload, { n: 2 });
});

test("an unacked message reappears after its visibility timeout", async () => {
  const q = new PgQueue(sql);
  const id = await q.publish("t_vis", { x: true });
  const [first] = await q.receive("t_vis", { visibilityMs: 1500 });
  assert.equal(first!.messageId, id);
  assert.deepEqual(await q.receive("t_vis", { visibilityMs: 100 }), []);
  const [second] = await until(() => q.receive("t_vis", { visibilityMs: 100 }));
  assert.equal(second!.messageId, id);
  assert.equal(second!.deliveries, 2);
});

test("delayed publish is invisible until due; queues are isolated", async () => {
  const q = new PgQueue(sql);
  await q.publish("t_delay", { d: 1 }, { delayMs: 1500 });
  await q.publish("t_other", { o: 1 });
  assert.deepEqual(await q.receive("t_delay", { visibilityMs: 1000 }), []);
  const [m] = await until(() => q.receive("t_delay", { visibilityMs: 1000 }));
  assert.deepEqual(m!.payload, { d: 1 });
  assert.equal(await q.depth("t_other"), 1);
});

test("a message received maxDeliveries times without an ack is dead-lettered", async () => {
  const q = new PgQueue(sql, { maxDeliveries: 2 });
  const id = await q.publish("t_dlq", { poison: true });
  for (let i = 1; i <= 2; i++) {
    const [m] = await until(() => q.receive("t_dlq", { visibilityMs: 1000 }));
    assert.equal(m!.deliveries, i);
    await q.requeue(m!.messageId, 0);
  }
  assert.deepEqual(await q.receive("t_dlq", { visibilityMs: 1000 }), []);
  const dead = await q.deadLetters("t_dlq");
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.messageId, id);
  assert.equal(dead[0]!.deliveries, 2);
  assert.deepEqual(dead[0]!.payload, { poison: true });
  assert.equal(await q.depth("t_dlq"), 0);
});

test("concurrent receivers never get the same message twice", async () => {
  const q = new PgQueue(sql);
  const ids = new Set<string>();
  for (let i = 0; i < 60; i++) ids.add(await q.publish("t_conc", { i }));
  const batches = await Promise.all(
    Array.from({ length: 6 }, () => q.receive("t_conc", { max: 15, visibilityMs: 60_000 })),
  );
  const got = batches.flat().map((m) => m.messageId);
  assert.equal(new Set(got).size, got.length, "a message was delivered twice");
  assert.ok(got.every((id) => ids.has(id)));
  assert.equal(got.length, 60);
});

test("an explicit message id makes publish idempotent; bad input is a clear error", async () => {
  const q = new PgQueue(sql);
  const id = randomUUID();
  await q.publish("t_idem", { a: 1 }, { messageId: id });
  await q.publish("t_idem", { a: 1 }, { messageId: id });
  assert.equal(await q.depth("t_idem"), 1);
  await assert.rejects(q.publish("Bad Queue!", {}), /invalid queue name/);
  await assert.rejects(q.publish("t_idem", {}, { delayMs: -1 }), /delayMs must be/);
  await assert.rejects(q.ack("not-a-uuid"), /message id must be/);
  await assert.rejects(q.receive("t_idem", { max: 0, visibilityMs: 1 }), /max must be/);
});
