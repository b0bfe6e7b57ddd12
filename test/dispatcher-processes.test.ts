import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { after, test } from "node:test";
import { wakeupOutboxId } from "../src/core/ids.ts";
import { enqueueTask } from "../src/dispatcher/enqueue.ts";
import {
  type Claim,
  cryoPayload,
  DispatcherClient,
  eventually,
  publicationFor,
  TEST_CAPABILITY,
  TEST_WORKER_TOKEN,
} from "../src/dispatcher/testkit.ts";
import { connect, listDatasetVersions, migrate, PgQueue, type Sql } from "../src/state/index.ts";
import { testDatabase } from "./support/postgres.ts";

/**
 * Multi-process properties of the dispatcher, with real child processes: a killed producer or
 * dispatcher loses no wake-up, and two dispatchers running every loop at once never
 * double-enqueue or double-register.
 */

const root = join(import.meta.dirname, "..");
const [dbKill, dbTwo] = await Promise.all([testDatabase("disp_kill"), testDatabase("disp_two")]);
const children = new Set<ChildProcess>();

after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
});

function baseEnv(databaseUrl: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    DATABASE_URL: databaseUrl,
    TRACE_WORKER_TOKEN: TEST_WORKER_TOKEN,
    TASK_CAPABILITY_SECRET: TEST_CAPABILITY.secret,
    TASK_CAPABILITY_KID: TEST_CAPABILITY.kid,
    DISPATCHER_BIND: "127.0.0.1:0",
    ...extra,
  };
}

function spawnTs(script: string, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.stderr?.on("data", () => {});
  return child;
}

/** Starts src/dispatcher/main.ts and resolves with its base URL once it listens. */
async function startDispatcherProcess(
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawnTs("src/dispatcher/main.ts", env);
  const url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    let err = "";
    child.stderr?.on("data", (d) => {
      err += String(d);
    });
    child.stdout?.on("data", (d) => {
      buf += String(d);
      for (const line of buf.split("\n")) {
        if (!line.includes("dispatcher.listening")) continue;
        resolve((JSON.parse(line) as { address: string }).address);
      }
    });
    child.on("exit", (code) => reject(new Error(`dispatcher exited early (${code}): ${err}`)));
  });
  return { child, url };
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

test("killing producers and dispatchers between writing tasks and enqueueing loses no wake-up", async () => {
  const sql = connect(dbKill.url, { max: 4 });
  try {
    await migrate(sql);
    const env = baseEnv(dbKill.url, { TRACE_OUTBOX_POLL_MS: "5" });
    // A dispatcher drains while a producer process writes tasks; both are killed mid-flight.
    const first = await startDispatcherProcess(env);
    const producer = spawnTs("test/dispatcher-child.ts", baseEnv(dbKill.url));
    let printed = 0;
    producer.stdout?.on("data", (d) => {
      printed += String(d).split("\n").filter(Boolean).length;
    });
    await eventually(async () => printed >= 150, 30_000, "producer progress");
    await killed(first.child);
    // Tasks written now have no dispatcher at all until the restart.
    await eventually(async () => printed >= 300, 30_000, "producer progress without dispatcher");
    await killed(producer);
    const [counts] = await sql<{ pending: number }[]>`
      SELECT count(*)::int AS pending FROM state.outbox WHERE status = 'pending'`;
    assert.ok(
      counts!.pending > 0,
      "some wake-ups were still only in the outbox when the dispatcher died",
    );

    const second = await startDispatcherProcess(env);
    await eventually(
      async () =>
        (await sql`SELECT 1 FROM state.outbox WHERE status <> 'sent' LIMIT 1`).length === 0,
      30_000,
      "outbox drained after restart",
    );
    await killed(second.child);

    const tasks = await sql<{ task_id: string }[]>`SELECT task_id FROM state.tasks`;
    assert.ok(tasks.length >= 300);
    const messages = await sql<{ message_id: string; task_id: string }[]>`
      SELECT message_id, payload->>'task_id' AS task_id FROM state.queue_messages
       WHERE queue_name = 'task_wakeup'`;
    // Exactly one wake-up per committed task, and it is that task's deterministic wake-up.
    assert.equal(messages.length, tasks.length);
    const byTask = new Map(messages.map((m) => [m.task_id, m.message_id]));
    for (const t of tasks) assert.equal(byTask.get(t.task_id), wakeupOutboxId(t.task_id, 1));
  } finally {
    await sql.end();
  }
});

test("two dispatcher processes running all loops never double-enqueue or double-register", async () => {
  const sql: Sql = connect(dbTwo.url, { max: 10 });
  try {
    await migrate(sql);
    const env = baseEnv(dbTwo.url, {
      TRACE_LEASE_MS: "3000",
      TRACE_OUTBOX_POLL_MS: "10",
      TRACE_LEASE_REAPER_POLL_MS: "10",
      TRACE_RETRY_POLL_MS: "10",
      TRACE_RETRY_BASE_MS: "20",
      TRACE_RETRY_MAX_MS: "50",
    });
    const [a, b] = await Promise.all([startDispatcherProcess(env), startDispatcherProcess(env)]);
    const apis = [new DispatcherClient(a.url), new DispatcherClient(b.url)];

    const N = 45;
    const tasks = Array.from({ length: N }, (_, i) => ({
      taskId: randomUUID() as string,
      payload: cryoPayload({ range_start: i * 10, range_end: i * 10 + 10 }),
      // 0: the worker dies on attempt 1; 1: retryable error on attempt 1; 2: succeeds at once.
      behaviour: i % 3,
    }));
    const byId = new Map(tasks.map((t) => [t.taskId, t]));
    for (const t of tasks) await enqueueTask(sql, { taskId: t.taskId, payload: t.payload });

    const queue = new PgQueue(sql);
    const wakeups = new Map<string, Set<string>>();
    const failures: string[] = [];
    const registered: boolean[] = [];
    const lateStatuses: number[] = [];
    const deadClaims = new Map<string, Claim>();
    let turn = 0;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const done = await sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM state.tasks WHERE status = 'completed'`;
      if (done[0]!.n === N) break;
      assert.ok(Date.now() < deadline, "tasks did not all complete in time");
      const msgs = await queue.receive<{ task_id: string }>("task_wakeup", {
        max: 10,
        visibilityMs: 60_000,
      });
      if (msgs.length === 0) {
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      await Promise.all(
        msgs.map(async (m) => {
          const t = byId.get(m.payload.task_id)!;
          const seen = wakeups.get(t.taskId) ?? new Set<string>();
          seen.add(m.messageId);
          wakeups.set(t.taskId, seen);
          const api = apis[turn++ % 2]!;
          const r = await api.claim(t.taskId);
          if (r.status === 200) {
            const claim = r.body as Claim;
            if (claim.attempt === 1 && t.behaviour === 0) {
              deadClaims.set(t.taskId, claim); // never heartbeats, never completes
            } else if (claim.attempt === 1 && t.behaviour === 1) {
              const f = await api.complete(claim, {
                outcome: "retryable_error",
                error: { category: "rpc_timeout", message: "simulated" },
              });
              if (f.status !== 200)
                failures.push(`retryable completion: ${f.status} ${JSON.stringify(f.body)}`);
            } else {
              // The same completion sent to both dispatchers at once.
              const pub = publicationFor(t.payload);
              const rs = await Promise.all(
                apis.map((x) =>
                  x.complete(claim, { outcome: "success", datasets_published: [pub] }),
                ),
              );
              assert.deepEqual(
                rs.map((x) => x.status),
                [200, 200],
              );
              for (const x of rs) registered.push(x.body.registered as boolean);
              const dead = deadClaims.get(t.taskId);
              if (dead) {
                const late = await apis[1]!.complete(dead, {
                  outcome: "success",
                  datasets_published: [pub],
                });
                lateStatuses.push(late.status);
              }
            }
          }
          await queue.ack(m.messageId);
        }),
      );
    }
    await Promise.all([killed(a.child), killed(b.child)]);
    assert.deepEqual(failures, []);

    const rows = await sql<{ task_id: string; attempt: number; status: string }[]>`
      SELECT task_id, attempt, status FROM state.tasks`;
    for (const r of rows) {
      const t = byId.get(r.task_id)!;
      assert.equal(r.status, "completed");
      assert.equal(r.attempt, t.behaviour === 2 ? 1 : 2);
      // One wake-up per attempt, never more.
      assert.equal(wakeups.get(r.task_id)?.size, r.attempt, `wake-ups of ${r.task_id}`);
    }
    const outbox = await sql<{ status: string; n: number }[]>`
      SELECT status, count(*)::int AS n FROM state.outbox GROUP BY status`;
    assert.deepEqual([...outbox], [{ status: "sent", n: rows.reduce((s, r) => s + r.attempt, 0) }]);
    assert.equal(registered.filter((x) => x).length, N, "each version registered once");
    assert.equal(registered.length, 2 * N);
    const versions = await listDatasetVersions(sql, {
      datasetUuids: tasks.map((t) => t.payload.dataset_uuid),
    });
    assert.equal(versions.length, N);
    assert.equal(lateStatuses.length, N / 3);
    assert.ok(
      lateStatuses.every((s) => s === 409),
      "late completions of dead attempts rejected",
    );
    assert.equal(await queue.depth("task_wakeup"), 0);
  } finally {
    await sql.end();
  }
});
