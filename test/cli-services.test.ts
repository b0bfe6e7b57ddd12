/**
 * The per-service commands of a production layout (`trace query-service`, `dispatcher`,
 * `worker`, `migrate`) reject an invalid environment with the variable's name and a non-zero
 * exit code, and never echo a secret.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { baseEnv, tempDir, trace } from "./cli-up-kit.ts";

const dir = tempDir("services");

test("the per-service commands reject an invalid environment with the variable's name and no secret", async () => {
  const secret = "short-secret-xyz";
  const env = baseEnv(join(dir, "svc"));

  const q = await trace(["query-service"], {
    ...env,
    DATABASE_URL: "postgres://trace:pw@127.0.0.1:1/trace",
    TRACE_OBJECT_STORE: join(dir, "objects"),
    TASK_CAPABILITY_SECRET: secret,
    TRACE_USER_TOKEN_SECRET: "x".repeat(40),
    QUERY_MAX_CONCURRENT: "many",
  });
  assert.equal(q.code, 2, q.stderr);
  assert.match(q.stderr, /invalid query service environment/);
  assert.match(
    q.stderr,
    /TASK_CAPABILITY_SECRET: TASK_CAPABILITY_SECRET must be at least 32 bytes/,
  );
  assert.match(q.stderr, /QUERY_MAX_CONCURRENT/);
  assert.ok(!q.stderr.includes(secret));

  const missing = await trace(["query-service"], env);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /DATABASE_URL: is required/);
  assert.match(missing.stderr, /TRACE_USER_TOKEN_SECRET: is required/);

  const d = await trace(["dispatcher"], {
    ...env,
    DATABASE_URL: "postgres://trace:pw@127.0.0.1:1/trace",
    TRACE_WORKER_TOKEN: "worker-token-long-enough",
    TASK_CAPABILITY_SECRET: "c".repeat(40),
    TRACE_ADMIN_TOKEN: secret.slice(0, 8),
  });
  assert.equal(d.code, 2, d.stderr);
  assert.match(d.stderr, /TRACE_ADMIN_TOKEN must be at least 16 bytes/);
  assert.ok(!d.stderr.includes(secret.slice(0, 8)));

  const w = await trace(["worker"], {
    ...env,
    TRACE_DISPATCHER_URL: "not a url",
    TRACE_WORKER_TOKEN: secret,
    DATABASE_URL: "postgres://trace:pw@127.0.0.1:1/trace",
  });
  assert.equal(w.code, 2, w.stderr);
  assert.match(w.stderr, /TRACE_DISPATCHER_URL must be a URL/);
  assert.ok(!w.stderr.includes(secret));

  const m = await trace(["migrate"], env);
  assert.equal(m.code, 2);
  assert.match(m.stderr, /DATABASE_URL is required/);

  const unreachable = await trace(["migrate"], {
    ...env,
    DATABASE_URL: "postgres://trace:pw-should-not-show@127.0.0.1:1/trace",
  });
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /migrate failed/);
  assert.ok(!unreachable.stderr.includes("pw-should-not-show"));
});
