/**
 * The per-service commands with a valid environment: `trace migrate` applies the migrations
 * once (then finds nothing to do); `trace dispatcher` and `trace query-service` listen where
 * DISPATCHER_BIND / QUERY_BIND say, answer, and stop on SIGTERM with exit 0.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { eventually } from "../src/dispatcher/testkit.ts";
import { baseEnv, tempDir, trace } from "./cli-up-kit.ts";
import { freePort } from "./support/net.ts";
import { testDatabase } from "./support/postgres.ts";

const BIN = join(import.meta.dirname, "..", "bin", "trace.js");

/** Starts `trace <service>`, waits for GET url+/healthz, SIGTERMs it, returns the exit code. */
async function runService(
  service: string,
  env: Record<string, string>,
  url: string,
  check: () => Promise<void>,
) {
  const child = spawn(process.execPath, [BIN, service], { env, stdio: "pipe" });
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  try {
    await eventually(
      async () => {
        const res = await fetch(`${url}/healthz`).catch(() => undefined);
        return res?.ok;
      },
      60_000,
      `${service} to answer:\n${out}`,
    );
    await check();
  } finally {
    child.kill("SIGTERM");
  }
  assert.equal(await exited, 0, out);
  return out;
}

test("trace migrate, trace dispatcher and trace query-service run from the environment and stop on SIGTERM", async () => {
  const db = await testDatabase("cli_services");
  const dir = tempDir("services-run");
  const env = baseEnv(join(dir, "home"), { DATABASE_URL: db.url });

  const first = await trace(["migrate"], env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /applied \d+ migration\(s\): 0001/);
  const again = await trace(["migrate"], env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /up to date/);
  assert.ok(!`${first.stdout}${first.stderr}`.includes(new URL(db.url).password));

  const capability = "c".repeat(40);
  const dPort = await freePort();
  await runService(
    "dispatcher",
    {
      ...env,
      TRACE_WORKER_TOKEN: "worker-token-0123456789",
      TASK_CAPABILITY_SECRET: capability,
      TRACE_ADMIN_TOKEN: "admin-token-0123456789",
      DISPATCHER_BIND: `127.0.0.1:${dPort}`,
    },
    `http://127.0.0.1:${dPort}`,
    async () => {
      const res = await fetch(`http://127.0.0.1:${dPort}/admin/chain-sync/jobs`, {
        headers: { authorization: "Bearer admin-token-0123456789" },
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { jobs: [] });
    },
  );

  const qPort = await freePort();
  await runService(
    "query-service",
    {
      ...env,
      TRACE_OBJECT_STORE: join(dir, "objects"),
      TASK_CAPABILITY_SECRET: capability,
      TRACE_USER_TOKEN_SECRET: "u".repeat(40),
      QUERY_BIND: `127.0.0.1:${qPort}`,
    },
    `http://127.0.0.1:${qPort}`,
    async () => {
      const res = await fetch(`http://127.0.0.1:${qPort}/v1/query`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sql: "SELECT 1" }),
      });
      assert.equal(res.status, 401);
    },
  );
});
