import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { testDatabase } from "../../test/support/postgres.ts";
import { wakeupOutboxId } from "../core/ids.ts";
import { type CapabilityClaims, mintCapabilityToken, type TokenKeyConfig } from "../core/tokens.ts";
import {
  connect,
  getTask,
  listDatasetVersions,
  listTaskEvents,
  listTasks,
  PgQueue,
  type Sql,
  type TaskRow,
} from "../state/index.ts";
import { createDispatcher, type Dispatcher } from "./dispatcher.ts";
import { enqueueTask, enqueueTasks } from "./enqueue.ts";
import {
  type Claim,
  cryoPayload,
  DispatcherClient,
  eventually,
  publicationFor,
  TEST_CAPABILITY,
  TEST_WORKER_TOKEN,
} from "./testkit.ts";

const db = await testDatabase("dispatcher");
const CAP: TokenKeyConfig = {
  ...TEST_CAPABILITY,
  nextKid: "k2",
  nextSecret: "next-capability-secret-for-tests-0123456789",
};
let sql: Sql;
let slow: Dispatcher; // long leases and backoff, no loops: for deterministic API checks
let fast: Dispatcher; // short leases, fast loops: for lifecycle checks
let api: DispatcherClient;
let fastApi: DispatcherClient;
const completedHook: string[] = [];
const failedHook: { task: TaskRow; category: string }[] = [];

before(async () => {
  sql = connect(db.url, { max: 20 });
  slow = await createDispatcher({
    sql,
    workerToken: TEST_WORKER_TOKEN,
    capability: CAP,
    leaseMs: 60_000,
    loops: false,
    retry: { baseMs: 60_000, maxMs: 60_000, jitter: 0 },
    logger: false,
    hooks: {
      async onTaskCompleted(tx, task, publication) {
        // Written inside the completion transaction: proves the hook shares it.
        await tx`INSERT INTO public.hook_log (task_id, what) VALUES (${task.task_id}, ${publication.dataset_version})`;
        if ((task.payload as { dataset_key: string }).dataset_key === "hook_fails") {
          throw new Error("hook failure");
        }
        completedHook.push(task.task_id);
      },
      async onTaskFailed(_tx, task, error) {
        failedHook.push({ task, category: error.category });
      },
    },
  });
  await sql`CREATE TABLE IF NOT EXISTS public.hook_log (task_id uuid, what text)`;
  fast = await createDispatcher({
    sql,
    workerToken: TEST_WORKER_TOKEN,
    capability: CAP,
    leaseMs: 1500,
    intervals: { outboxMs: 20, reaperMs: 20, retryMs: 20 },
    retry: { baseMs: 30, maxMs: 100, jitter: 0.5 },
    logger: false,
    hooks: {
      async onTaskFailed(_tx, task, error) {
        failedHook.push({ task, category: error.category });
      },
    },
  });
  api = new DispatcherClient(await slow.listen());
  fastApi = new DispatcherClient(await fast.listen());
  await fast.start();
});

after(async () => {
  await slow.stop();
  await fast.stop();
  await sql.end();
});

async function newTask(
  opts: { maxAttempts?: number; payload?: ReturnType<typeof cryoPayload> } = {},
) {
  const taskId = randomUUID();
  const payload = opts.payload ?? cryoPayload();
  await enqueueTask(sql, { taskId, payload, maxAttempts: opts.maxAttempts });
  return { taskId, payload };
}

async function claimed(client = api, opts: { maxAttempts?: number } = {}) {
  const t = await newTask(opts);
  const r = await client.claim(t.taskId);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { ...t, claim: r.body as Claim };
}

async function snapshot(taskId: string) {
  const task = await getTask(sql, taskId);
  const versions =
    await sql`SELECT count(*)::int AS n FROM state.dataset_versions WHERE task_id = ${taskId}`;
  const events = await listTaskEvents(sql, taskId);
  return { task, versions: versions[0]!.n, events: events.length };
}

describe("enqueueTask", () => {
  test("inserts a queued task and its wake-up atomically, idempotently", async () => {
    const taskId = randomUUID();
    const payload = cryoPayload();
    assert.deepEqual(await enqueueTask(sql, { taskId, payload }), { created: true });
    assert.deepEqual(await enqueueTask(sql, { taskId, payload }), { created: false });
    const task = await getTask(sql, taskId);
    assert.equal(task?.status, "queued");
    assert.equal(task?.attempt, 1);
    assert.equal(task?.max_attempts, 3);
    const outbox =
      await sql`SELECT topic, payload FROM state.outbox WHERE outbox_id = ${wakeupOutboxId(taskId, 1)}`;
    assert.equal(outbox.length, 1);
    assert.equal(outbox[0]!.topic, "task_wakeup");
    assert.deepEqual(outbox[0]!.payload, { task_id: taskId });
  });

  test("rejects a different payload for an existing id, and bad input, clearly", async () => {
    const taskId = randomUUID();
    await enqueueTask(sql, { taskId, payload: cryoPayload() });
    await assert.rejects(enqueueTask(sql, { taskId, payload: cryoPayload() }), /different payload/);
    await assert.rejects(
      enqueueTask(sql, { taskId: "x", payload: cryoPayload() }),
      /task_id must be/,
    );
    await assert.rejects(
      enqueueTask(sql, { taskId: randomUUID(), payload: { ...cryoPayload(), range_end: 0 } }),
      /invalid task payload/,
    );
    await assert.rejects(
      enqueueTask(sql, { taskId: randomUUID(), payload: cryoPayload(), maxAttempts: 0 }),
      /maxAttempts/,
    );
  });

  test("joins the caller's transaction: a rollback leaves neither task nor wake-up", async () => {
    const taskId = randomUUID();
    await assert.rejects(
      sql.begin(async (tx) => {
        await enqueueTask(tx, { taskId, payload: cryoPayload() });
        throw new Error("planner aborted");
      }),
      /planner aborted/,
    );
    assert.equal(await getTask(sql, taskId), undefined);
    assert.equal(
      (await sql`SELECT 1 FROM state.outbox WHERE outbox_id = ${wakeupOutboxId(taskId, 1)}`).length,
      0,
    );
  });

  test("a batch enqueues every task with its event and wake-up, or nothing on a conflict", async () => {
    const ids = Array.from({ length: 5 }, () => randomUUID() as string);
    const payloads = ids.map(() => cryoPayload());
    const existing = randomUUID();
    const existingPayload = cryoPayload();
    await enqueueTask(sql, { taskId: existing, payload: existingPayload });
    const first = await enqueueTasks(sql, [
      ...ids.map((taskId, i) => ({ taskId, payload: payloads[i], maxAttempts: 2 })),
      { taskId: existing, payload: existingPayload },
    ]);
    assert.deepEqual(first, [
      ...ids.map((taskId) => ({ taskId, created: true })),
      { taskId: existing, created: false },
    ]);
    for (const taskId of ids) {
      assert.equal((await getTask(sql, taskId))?.max_attempts, 2);
      assert.deepEqual(
        (await listTaskEvents(sql, taskId)).map((e) => [e.event, e.detail]),
        [["enqueued", { max_attempts: 2 }]],
      );
      const [w] =
        await sql`SELECT payload FROM state.outbox WHERE outbox_id = ${wakeupOutboxId(taskId, 1)}`;
      assert.deepEqual(w?.payload, { task_id: taskId });
    }
    // One task of the batch conflicts: none of the new ones is created.
    const fresh = [randomUUID() as string, randomUUID() as string];
    await assert.rejects(
      enqueueTasks(sql, [
        { taskId: fresh[0]!, payload: cryoPayload() },
        { taskId: ids[2]!, payload: cryoPayload() },
        { taskId: fresh[1]!, payload: cryoPayload() },
      ]),
      /different payload/,
    );
    for (const taskId of fresh) assert.equal(await getTask(sql, taskId), undefined);
    await assert.rejects(
      enqueueTasks(sql, [
        { taskId: fresh[0]!, payload: cryoPayload() },
        { taskId: fresh[0]!, payload: cryoPayload() },
      ]),
      /same task_id twice/,
    );
  });

  test("concurrent identical enqueues of one new task create it once, without a conflict", async () => {
    for (let round = 0; round < 5; round++) {
      const taskId = randomUUID();
      const payload = cryoPayload();
      const results = await Promise.all(
        Array.from({ length: 6 }, () => enqueueTask(sql, { taskId, payload })),
      );
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal((await listTaskEvents(sql, taskId)).length, 1);
    }
  });
});

describe("claim", () => {
  test("exactly one of N concurrent claimers wins (trace-rust §6.6 #33)", async () => {
    const { taskId } = await newTask();
    const replies = await Promise.all(Array.from({ length: 16 }, () => api.claim(taskId)));
    assert.equal(replies.filter((r) => r.status === 200).length, 1);
    assert.deepEqual(
      new Set(replies.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.body.error}`)),
      new Set(["409 task already leased"]),
    );
    const win = replies.find((r) => r.status === 200)!.body;
    assert.equal(win.attempt, 1);
    assert.equal(win.task_id, taskId);
    assert.ok(Date.parse(win.lease_expires_at) > 0);
    assert.equal(win.work_payload.operator, "cryo_ingest");
    const task = await getTask(sql, taskId);
    assert.equal(task?.status, "running");
    assert.equal(task?.lease_token, win.lease_token);
  });

  test("the capability token grants the task's own dataset", async () => {
    const { payload, claim } = await claimed();
    const [, body] = claim.capability_token.split(".");
    const claims = JSON.parse(Buffer.from(body!, "base64url").toString()) as CapabilityClaims;
    const [head] = claim.capability_token.split(".");
    const header = JSON.parse(Buffer.from(head!, "base64url").toString());
    assert.deepEqual([header.alg, header.kid], ["HS256", CAP.kid]);
    assert.equal(claims.iss, CAP.issuer);
    assert.equal(claims.aud, "trace.task");
    assert.equal(claims.sub, `task:${claim.task_id}`);
    assert.equal(claims.task_id, claim.task_id);
    assert.equal(claims.org_id, "00000000-0000-0000-0000-000000000001");
    assert.ok(claims.exp > Math.floor(Date.now() / 1000), "not expired");
    assert.equal(claims.attempt, 1);
    assert.deepEqual(
      claims.datasets.map((d) => d.dataset_uuid),
      [payload.dataset_uuid],
    );
  });

  test("a running task with a live lease cannot be claimed", async () => {
    const { taskId } = await claimed();
    const r = await api.claim(taskId);
    assert.deepEqual([r.status, r.body.error], [409, "task already leased"]);
  });

  test("completed and canceled tasks cannot be claimed", async () => {
    const { taskId, payload, claim } = await claimed();
    assert.equal(
      (
        await api.complete(claim, {
          outcome: "success",
          datasets_published: [publicationFor(payload)],
        })
      ).status,
      200,
    );
    let r = await api.claim(taskId);
    assert.deepEqual([r.status, r.body.error], [409, "task not claimable"]);
    const other = await newTask();
    await sql`UPDATE state.tasks SET status = 'canceled' WHERE task_id = ${other.taskId}`;
    r = await api.claim(other.taskId);
    assert.deepEqual([r.status, r.body.error], [409, "task not claimable"]);
  });

  test("canceling revokes a running lease; canceled tasks end for good", async () => {
    const { taskId, claim } = await claimed();
    assert.equal(await slow.cancel(taskId, "job paused"), true);
    assert.equal(await slow.cancel(taskId), false);
    const hb = await api.heartbeat(claim, claim.capability_token);
    assert.deepEqual([hb.status, hb.body.error], [409, "stale task fence"]);
    const task = await getTask(sql, taskId);
    assert.equal(task?.status, "canceled");
    assert.ok(failedHook.some((f) => f.task.task_id === taskId && f.category === "canceled"));
    assert.equal((await api.claim(taskId)).status, 409);
  });

  test("unknown ids are 404 and are not created (trace-rust §9.1)", async () => {
    const id = randomUUID();
    const r = await api.claim(id);
    assert.deepEqual([r.status, r.body.error], [404, "task not found"]);
    assert.equal(await getTask(sql, id), undefined);
  });

  test("missing or wrong worker token → 401; bad bodies → 400 JSON errors", async () => {
    const { taskId } = await newTask();
    let r = await api.claim(taskId, null);
    assert.deepEqual([r.status, r.body.error], [401, "missing worker token"]);
    r = await api.claim(taskId, "wrong-token-wrong-token-wrong");
    assert.deepEqual([r.status, r.body.error], [401, "invalid worker token"]);
    r = await api.claim(taskId, `${TEST_WORKER_TOKEN}x`);
    assert.equal(r.status, 401);
    assert.equal((await getTask(sql, taskId))?.status, "queued");
    const auth = { "x-trace-worker-token": TEST_WORKER_TOKEN };
    r = await api.post("/internal/task-claim", { task_id: "nope" }, auth);
    assert.deepEqual([r.status, r.body.error], [400, "invalid request body"]);
    r = await api.post("/internal/task-claim", "{not json", auth);
    assert.deepEqual([r.status, r.body.error], [400, "invalid request body"]);
    const res = await fetch(`${api.baseUrl}/internal/task-claim`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/xml" },
      body: "x",
    });
    assert.equal(res.status, 415);
    assert.deepEqual(await res.json(), { error: "unsupported content type" });
  });

  test("healthz answers", async () => {
    const res = await fetch(`${api.baseUrl}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
  });
});

describe("fencing", () => {
  function raw(claims: Record<string, unknown>, header: Record<string, unknown>): string {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    return `${b64(header)}.${b64(claims)}.`;
  }
  const claimsFor = (c: Claim) => ({
    org_id: "00000000-0000-0000-0000-000000000001",
    task_id: c.task_id,
    attempt: c.attempt,
    datasets: [],
    s3: { read_prefixes: [], write_prefixes: [] },
  });

  test("heartbeat extends a live lease and returns a fresh capability token", async () => {
    const { claim } = await claimed();
    const r = await api.heartbeat(claim, claim.capability_token);
    assert.equal(r.status, 200);
    assert.ok(Date.parse(r.body.lease_expires_at as string) >= Date.parse(claim.lease_expires_at));
    assert.equal(typeof r.body.capability_token, "string");
    const again = await api.heartbeat(claim, r.body.capability_token as string);
    assert.equal(again.status, 200);
  });

  test("bad tokens, other tasks' tokens, stale attempts and wrong leases change nothing", async () => {
    const { taskId, payload, claim } = await claimed();
    const other = (await claimed()).claim;
    const before = await snapshot(taskId);
    const now = Math.floor(Date.now() / 1000);
    const cases: [
      string,
      Promise<{ status: number; body: Record<string, unknown> }>,
      number,
      string,
    ][] = [
      ["no header", api.heartbeat(claim, null), 401, "missing capability token"],
      [
        "other task's token",
        api.heartbeat(claim, other.capability_token),
        403,
        "capability does not match request",
      ],
      [
        "wrong lease token",
        api.heartbeat({ ...claim, lease_token: randomUUID() }, claim.capability_token),
        409,
        "stale task fence",
      ],
      [
        "forged (other secret)",
        api.heartbeat(
          claim,
          await mintCapabilityToken(
            { ...CAP, secret: "another-secret-another-secret-another!!" },
            claimsFor(claim),
          ),
        ),
        401,
        "invalid capability token",
      ],
      [
        "expired",
        api.heartbeat(
          claim,
          await mintCapabilityToken({ ...CAP, ttlSeconds: -3600 }, claimsFor(claim)),
        ),
        401,
        "invalid capability token",
      ],
      [
        "wrong audience",
        api.heartbeat(
          claim,
          await mintCapabilityToken({ ...CAP, audience: "trace.user" }, claimsFor(claim)),
        ),
        401,
        "invalid capability token",
      ],
      [
        "alg none",
        api.heartbeat(
          claim,
          raw(
            {
              ...claimsFor(claim),
              iss: CAP.issuer,
              aud: CAP.audience,
              sub: `task:${taskId}`,
              iat: now,
              exp: now + 300,
            },
            { alg: "none", kid: CAP.kid, typ: "JWT" },
          ),
        ),
        401,
        "invalid capability token",
      ],
      [
        "stale attempt (token and body for attempt 2 of an attempt-1 task)",
        api.heartbeat(
          { ...claim, attempt: 2 },
          await mintCapabilityToken(CAP, { ...claimsFor(claim), attempt: 2 }),
        ),
        409,
        "stale task fence",
      ],
      [
        "token attempt differs from body attempt",
        api.heartbeat({ ...claim, attempt: 2 }, claim.capability_token),
        403,
        "capability does not match request",
      ],
    ];
    for (const [what, pending, status, error] of cases) {
      const r = await pending;
      assert.deepEqual([r.status, r.body.error], [status, error], what);
    }
    // The same checks guard completion.
    const pub = publicationFor(payload);
    for (const [what, r, status] of [
      [
        "no header",
        await api.complete(claim, { outcome: "success", datasets_published: [pub] }, null),
        401,
      ],
      [
        "other token",
        await api.complete(
          claim,
          { outcome: "success", datasets_published: [pub] },
          other.capability_token,
        ),
        403,
      ],
      [
        "wrong lease",
        await api.complete(
          { ...claim, lease_token: randomUUID() },
          { outcome: "success", datasets_published: [pub] },
        ),
        409,
      ],
      [
        "stale attempt",
        await api.complete(
          {
            ...claim,
            attempt: 2,
            capability_token: await mintCapabilityToken(CAP, { ...claimsFor(claim), attempt: 2 }),
          },
          { outcome: "success", datasets_published: [pub] },
        ),
        409,
      ],
    ] as const) {
      assert.equal(r.status, status, what);
    }
    const afterAll = await snapshot(taskId);
    assert.deepEqual(afterAll, before);
  });

  test("completion refuses forged, expired, alg none and wrong-audience tokens; nothing changes", async () => {
    const { taskId, payload, claim } = await claimed();
    const before = await snapshot(taskId);
    const now = Math.floor(Date.now() / 1000);
    const success = { outcome: "success", datasets_published: [publicationFor(payload)] };
    const tokens: [string, string][] = [
      [
        "forged (other secret)",
        await mintCapabilityToken(
          { ...CAP, secret: "another-secret-another-secret-another!!" },
          claimsFor(claim),
        ),
      ],
      ["expired", await mintCapabilityToken({ ...CAP, ttlSeconds: -3600 }, claimsFor(claim))],
      [
        "wrong audience",
        await mintCapabilityToken({ ...CAP, audience: "trace.user" }, claimsFor(claim)),
      ],
      [
        "wrong issuer",
        await mintCapabilityToken({ ...CAP, issuer: "someone-else" }, claimsFor(claim)),
      ],
      [
        "alg none",
        raw(
          {
            ...claimsFor(claim),
            iss: CAP.issuer,
            aud: CAP.audience,
            sub: `task:${taskId}`,
            iat: now,
            exp: now + 300,
          },
          { alg: "none", kid: CAP.kid, typ: "JWT" },
        ),
      ],
      ["garbage", "not-a-jwt"],
    ];
    for (const [what, token] of tokens) {
      const r = await api.complete(claim, success, token);
      assert.deepEqual([r.status, r.body.error], [401, "invalid capability token"], what);
    }
    assert.deepEqual(await snapshot(taskId), before);
    assert.equal(
      (await listDatasetVersions(sql, { datasetUuids: [payload.dataset_uuid] })).length,
      0,
    );
  });

  test("a token signed with the next key is accepted during rotation (trace-rust §6.6 #37)", async () => {
    const { claim } = await claimed();
    const next = await mintCapabilityToken(
      { ...CAP, kid: CAP.nextKid!, secret: CAP.nextSecret! },
      claimsFor(claim),
    );
    assert.equal((await api.heartbeat(claim, next)).status, 200);
  });
});

describe("completion", () => {
  test("zero, two (even identical) or mismatched publications → 422, nothing registered", async () => {
    const { taskId, payload, claim } = await claimed();
    const pub = publicationFor(payload);
    const otherChain = publicationFor({ ...payload, chain_id: 2 });
    const bad: [string, unknown[], string][] = [
      ["zero", [], "completion must include exactly one dataset publication"],
      ["two identical", [pub, pub], "completion must include exactly one dataset publication"],
      [
        "uuid mismatch",
        [{ ...pub, dataset_uuid: randomUUID() }],
        "dataset publication does not match task payload",
      ],
      [
        "range mismatch",
        [{ ...pub, range_end: pub.range_end + 1 }],
        "dataset publication does not match task payload",
      ],
      [
        "config mismatch",
        [{ ...pub, config_hash: "cryo_ingest.logs:v1" }],
        "dataset publication does not match task payload",
      ],
      [
        "chain mismatch (version of another chain)",
        [{ ...pub, dataset_version: otherChain.dataset_version }],
        "dataset version does not match task payload",
      ],
      [
        "version not derived",
        [{ ...pub, dataset_version: randomUUID() }],
        "dataset version does not match task payload",
      ],
      [
        "prefix of another dataset",
        [{ ...pub, storage_ref: { ...pub.storage_ref, prefix: "cryo/1/other/" } }],
        "dataset storage prefix does not match task payload",
      ],
      ["malformed", [{ ...pub, storage_ref: { scheme: "ftp" } }], "invalid dataset publication"],
    ];
    const before = await snapshot(taskId);
    for (const [what, pubs, error] of bad) {
      const r = await api.complete(claim, { outcome: "success", datasets_published: pubs });
      assert.deepEqual([r.status, r.body.error], [422, error], what);
    }
    for (const outcome of ["retryable_error", "fatal_error"]) {
      const r = await api.complete(claim, {
        outcome,
        datasets_published: [pub],
        error: { category: "rpc", message: "x" },
      });
      assert.deepEqual(
        [r.status, r.body.error],
        [422, "non-success completion must not include dataset publications"],
      );
    }
    const r = await api.complete(claim, { outcome: "fatal_error" });
    assert.deepEqual(
      [r.status, r.body.error],
      [400, "failure outcome requires an error category and message"],
    );
    assert.deepEqual(await snapshot(taskId), before);
    assert.equal(
      (await listDatasetVersions(sql, { datasetUuids: [payload.dataset_uuid] })).length,
      0,
    );
  });

  test("success registers once; an identical retry is 200 with no second row; divergence → 409", async () => {
    const { taskId, payload, claim } = await claimed();
    const pub = publicationFor(payload);
    const first = await api.complete(claim, { outcome: "success", datasets_published: [pub] });
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, {
      task_id: taskId,
      attempt: 1,
      status: "completed",
      registered: true,
    });
    const again = await api.complete(claim, { outcome: "success", datasets_published: [pub] });
    assert.equal(again.status, 200);
    assert.equal(again.body.registered, false);
    const divergent = await api.complete(claim, {
      outcome: "success",
      datasets_published: [
        { ...pub, storage_ref: { ...pub.storage_ref, bucket: "another-bucket" } },
      ],
    });
    assert.deepEqual([divergent.status, divergent.body.error], [409, "dataset version conflict"]);
    const rows = await listDatasetVersions(sql, { datasetUuids: [payload.dataset_uuid] });
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.task_id, taskId);
    assert.equal(rows[0]!.chain_id, 1);
    assert.deepEqual(rows[0]!.storage_ref, pub.storage_ref);
    const task = await getTask(sql, taskId);
    assert.equal(task?.status, "completed");
    assert.ok(task?.finished_at);
    assert.equal(completedHook.filter((id) => id === taskId).length, 1, "hook ran once");
    // A late failure report from the same attempt cannot undo the success.
    const late = await api.complete(claim, {
      outcome: "fatal_error",
      error: { category: "x", message: "y" },
    });
    assert.equal(late.status, 409);
  });

  test("two tasks publishing the same version register one row; a divergent one → 409", async () => {
    const payload = cryoPayload();
    const a = await claimed();
    // Same payload in two tasks (trace-rust §6.6 #47).
    const t1 = await newTask({ payload });
    const t2 = await newTask({ payload });
    const c1 = (await api.claim(t1.taskId)).body as Claim;
    const c2 = (await api.claim(t2.taskId)).body as Claim;
    const pub = publicationFor(payload);
    assert.equal(
      (await api.complete(c1, { outcome: "success", datasets_published: [pub] })).status,
      200,
    );
    assert.equal(
      (await api.complete(c2, { outcome: "success", datasets_published: [pub] })).status,
      200,
    );
    assert.equal(
      (await listDatasetVersions(sql, { datasetUuids: [payload.dataset_uuid] })).length,
      1,
    );
    const t3 = await newTask({ payload });
    const c3 = (await api.claim(t3.taskId)).body as Claim;
    const r = await api.complete(c3, {
      outcome: "success",
      datasets_published: [
        { ...pub, storage_ref: { ...pub.storage_ref, prefix: `root/${pub.storage_ref.prefix}` } },
      ],
    });
    assert.deepEqual([r.status, r.body.error], [409, "dataset version conflict"]);
    assert.equal(
      (await getTask(sql, t3.taskId))?.status,
      "running",
      "rejected completion changed nothing",
    );
    assert.ok(a);
  });

  test("a hook that throws aborts the completion: nothing registered, task still running", async () => {
    const payload = cryoPayload({ dataset_key: "hook_fails" });
    const { taskId } = await newTask({ payload });
    const claim = (await api.claim(taskId)).body as Claim;
    const r = await api.complete(claim, {
      outcome: "success",
      datasets_published: [publicationFor(payload)],
    });
    assert.deepEqual([r.status, r.body.error], [500, "internal error"]);
    assert.equal((await getTask(sql, taskId))?.status, "running");
    assert.equal(
      (await listDatasetVersions(sql, { datasetUuids: [payload.dataset_uuid] })).length,
      0,
    );
    assert.equal((await sql`SELECT 1 FROM public.hook_log WHERE task_id = ${taskId}`).length, 0);
  });

  test("fatal errors end the task at once; the error and the failure hook are recorded", async () => {
    const { taskId, claim } = await claimed();
    const r = await api.complete(claim, {
      outcome: "fatal_error",
      error: { category: "cap_exceeded", message: "too many bytes" },
    });
    assert.deepEqual(r.body, { task_id: taskId, attempt: 1, status: "failed" });
    const task = await getTask(sql, taskId);
    assert.equal(task?.status, "failed");
    assert.equal(task?.attempt, 1);
    assert.equal(task?.last_error_category, "cap_exceeded");
    assert.equal(task?.last_error_message, "too many bytes");
    assert.equal(task?.lease_token, null);
    assert.ok(failedHook.some((f) => f.task.task_id === taskId && f.category === "cap_exceeded"));
    const events = (await listTaskEvents(sql, taskId)).map((e) => e.event);
    assert.deepEqual(events, ["enqueued", "claimed", "failed"]);
  });

  test("retryable errors requeue with backoff: not claimable before the retry is due", async () => {
    const { taskId, claim } = await claimed();
    const long = "m".repeat(5000);
    const r = await api.complete(claim, {
      outcome: "retryable_error",
      error: { category: "rpc_timeout", message: long },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.status, "queued");
    assert.ok(Date.parse(r.body.next_attempt_at as string) > Date.now() + 30_000);
    const task = await getTask(sql, taskId);
    assert.equal(task?.status, "queued");
    assert.equal(task?.attempt, 2);
    assert.equal(task?.last_error_message?.length, 2000, "stored message is bounded");
    const early = await api.claim(taskId);
    assert.deepEqual([early.status, early.body.error], [409, "task retry not due yet"]);
    // The old attempt's completion is stale now.
    const late = await api.complete(claim, { outcome: "success", datasets_published: [] });
    assert.equal(late.status, 409);
  });
});

describe("status view", () => {
  test("listTasks shows attempts, last error category and timestamps, newest change first", async () => {
    const { taskId, claim } = await claimed();
    await api.complete(claim, {
      outcome: "retryable_error",
      error: { category: "rpc_timeout", message: "slow node" },
    });
    const done = await claimed();
    await api.complete(done.claim, {
      outcome: "success",
      datasets_published: [publicationFor(done.payload)],
    });
    const queued = await listTasks(sql, { status: "queued", limit: 1000 });
    const row = queued.find((t) => t.task_id === taskId);
    assert.ok(row, "the retrying task is listed as queued");
    assert.equal(row.attempt, 2);
    assert.equal(row.max_attempts, 3);
    assert.equal(row.last_error_category, "rpc_timeout");
    assert.ok(row.started_at instanceof Date && row.next_retry_at instanceof Date);
    assert.equal(row.finished_at, null);
    assert.ok(!("payload" in row) && !("lease_token" in row), "no payload or lease in a summary");
    assert.ok(queued.every((t) => t.status === "queued"));
    for (let i = 1; i < queued.length; i++) {
      assert.ok(queued[i - 1]!.updated_at >= queued[i]!.updated_at, "newest change first");
    }
    // (Other tests' tasks change concurrently, so only this test's own rows are checked.)
    const completed = await listTasks(sql, { status: "completed", limit: 1000 });
    const finished = completed.find((t) => t.task_id === done.taskId);
    assert.ok(finished?.finished_at instanceof Date);
    assert.equal(finished?.last_error_category, null);
    assert.ok((await listTasks(sql, { limit: 5 })).length <= 5);
    await assert.rejects(listTasks(sql, { limit: 0 }), /limit must be/);
    await assert.rejects(listTasks(sql, { status: "done" as never }), /status must be one of/);
  });
});

describe("lifecycle with background loops", () => {
  const queue = () => new PgQueue(sql);

  async function wakeupsFor(taskId: string): Promise<number> {
    const rows =
      await sql`SELECT count(*)::int AS n FROM state.queue_messages WHERE queue_name = 'task_wakeup' AND payload->>'task_id' = ${taskId}`;
    return rows[0]!.n;
  }

  test("a worker that dies loses its lease; the retry gets a new attempt and a new wake-up", async () => {
    const { taskId, payload } = await newTask();
    await eventually(async () => (await wakeupsFor(taskId)) === 1, 15_000, "first wake-up");
    const c1 = (await fastApi.claim(taskId)).body as Claim;
    assert.equal(c1.attempt, 1);
    // No heartbeat: the reaper takes the lease, the retry scheduler emits wake-up #2.
    await eventually(async () => (await wakeupsFor(taskId)) === 2, 15_000, "retry wake-up");
    const hb = await fastApi.heartbeat(c1, c1.capability_token);
    assert.deepEqual(
      [hb.status, hb.body.error],
      [409, "stale task fence"],
      "an expired lease cannot be revived",
    );
    const c2 = await eventually(async () => {
      const r = await fastApi.claim(taskId);
      return r.status === 200 ? (r.body as Claim) : undefined;
    });
    assert.equal(c2.attempt, 2);
    const late = await fastApi.complete(c1, {
      outcome: "success",
      datasets_published: [publicationFor(payload)],
    });
    assert.deepEqual(
      [late.status, late.body.error],
      [409, "stale task fence"],
      "old attempt's late completion",
    );
    const ok = await fastApi.complete(c2, {
      outcome: "success",
      datasets_published: [publicationFor(payload)],
    });
    assert.equal(ok.status, 200);
    const events = (await listTaskEvents(sql, taskId)).map((e) => `${e.attempt}:${e.event}`);
    assert.deepEqual(events, [
      "1:enqueued",
      "1:claimed",
      "1:retry_scheduled",
      "2:claimed",
      "2:completed",
    ]);
    const retry = (await listTaskEvents(sql, taskId)).find((e) => e.event === "retry_scheduled");
    assert.equal(retry?.detail.category, "lease_expired");
    assert.equal(
      (await listDatasetVersions(sql, { datasetUuids: [payload.dataset_uuid] })).length,
      1,
    );
    assert.ok(queue());
  });

  test("max_attempts ends a repeatedly failing task for good, and runs the failure hook", async () => {
    const { taskId } = await newTask({ maxAttempts: 2 });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const c = await eventually(async () => {
        const r = await fastApi.claim(taskId);
        return r.status === 200 ? (r.body as Claim) : undefined;
      });
      assert.equal(c.attempt, attempt);
      const r = await fastApi.complete(c, {
        outcome: "retryable_error",
        error: { category: "rpc_unavailable", message: `try ${attempt}` },
      });
      assert.equal(r.body.status, attempt < 2 ? "queued" : "failed");
    }
    const task = await getTask(sql, taskId);
    assert.equal(task?.status, "failed");
    assert.equal(task?.attempt, 2);
    assert.equal(task?.last_error_category, "rpc_unavailable");
    assert.ok(failedHook.some((f) => f.task.task_id === taskId));
    const r = await fastApi.claim(taskId);
    assert.equal(r.status, 409);
  });

  test("expired leases on the last attempt fail the task for good (no slot held forever)", async () => {
    const { taskId } = await newTask({ maxAttempts: 1 });
    const c = (await fastApi.claim(taskId)).body as Claim;
    assert.equal(c.attempt, 1);
    const task = await eventually(async () => {
      const t = await getTask(sql, taskId);
      return t?.status === "failed" ? t : undefined;
    });
    assert.equal(task.last_error_category, "lease_expired");
    assert.ok(failedHook.some((f) => f.task.task_id === taskId && f.category === "lease_expired"));
  });

  test("heartbeats keep a lease alive past its original expiry", async () => {
    const { taskId } = await newTask();
    let c = (await fastApi.claim(taskId)).body as Claim;
    const firstExpiry = Date.parse(c.lease_expires_at);
    let token = c.capability_token;
    // Heartbeat until the original expiry has clearly passed.
    while (Date.now() < firstExpiry + 300) {
      const r = await fastApi.heartbeat(c, token);
      assert.equal(r.status, 200);
      token = r.body.capability_token as string;
      await new Promise((res) => setTimeout(res, 100));
    }
    const t = await getTask(sql, taskId);
    assert.equal(t?.status, "running");
    assert.equal(t?.attempt, 1);
    c = { ...c, capability_token: token };
    assert.equal(
      (
        await fastApi.complete(c, {
          outcome: "fatal_error",
          error: { category: "done", message: "" },
        })
      ).status,
      200,
    );
  });
});
