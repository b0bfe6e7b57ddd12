/**
 * `trace up` with the client commands, all as child processes against the synthetic chain:
 * apply → progress in status → pause → Ctrl-C (SIGINT) leaves no process, lock or stack.json;
 * a second `trace up` on the same home finds the job where it stopped (cursor and published
 * versions preserved), resumes it to completion, and `trace query` sees every block.
 * A second `trace up` while one runs is refused; a stale lock from a dead process is not.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import postgres from "postgres";
import { ChainSyncAdminClient } from "../src/chain-sync/client.ts";
import type { JobStatus } from "../src/chain-sync/status.ts";
import { startDevnet } from "../src/devnet/server.ts";
import { eventually } from "../src/dispatcher/testkit.ts";
import {
  baseEnv,
  processAlive,
  processesMentioning,
  type StackJson,
  startUp,
  tempDir,
  trace,
} from "./cli-up-kit.ts";

const TO = 800;
const devnet = await startDevnet({
  chain: { seed: "cli-up", chainId: 31337, length: 3_000, txsPerBlock: 6, logsPerBlock: 10 },
});
after(() => devnet.stop());

const dir = tempDir("up");
const home = join(dir, "home");
const env = baseEnv(home, { TMPDIR: dir, TRACE_RPC_POOL_MAIN_URL: devnet.url });
const yamlPath = join(dir, "job.yaml");
writeFileSync(
  yamlPath,
  [
    "kind: chain_sync",
    "name: upjob",
    "chain_id: 31337",
    `mode: { kind: fixed_target, from_block: 0, to_block: ${TO} }`,
    "streams:",
    "  blocks: { cryo_dataset_name: blocks, rpc_pool: main, chunk_size: 100, max_inflight: 1 }",
    "  logs: { cryo_dataset_name: logs, rpc_pool: main, chunk_size: 100, max_inflight: 1 }",
    "",
  ].join("\n"),
);

/**
 * The admin API of the running stack, for polling and pause/resume (a `trace status` child per
 * poll would cost seconds; those commands have their own tests).
 */
function admin(): ChainSyncAdminClient {
  const stack = JSON.parse(readFileSync(join(home, "stack.json"), "utf8")) as StackJson;
  const secrets = JSON.parse(readFileSync(join(home, "secrets.json"), "utf8"));
  return new ChainSyncAdminClient(stack.dispatcher_url, secrets.admin_token);
}

const status = (): Promise<JobStatus> => admin().status("upjob");

/** The registry as PostgreSQL holds it, read with the password from secrets.json. */
async function versions(stack: StackJson): Promise<string[]> {
  const secrets = JSON.parse(readFileSync(join(home, "secrets.json"), "utf8"));
  const url = new URL(stack.database_url_redacted);
  url.password = encodeURIComponent(secrets.postgres_password);
  const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ v: string }[]>`
      SELECT dataset_uuid || ':' || range_start || '-' || range_end || ':' || dataset_version
             || ':' || created_at::text AS v
        FROM state.dataset_versions ORDER BY 1`;
    return rows.map((r) => r.v);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

function postmasterPid(): number {
  const pid = Number(readFileSync(join(home, "pg", "postmaster.pid"), "utf8").split("\n")[0]);
  assert.ok(pid > 0);
  return pid;
}

test("trace up + apply + status + pause, Ctrl-C, then a second trace up resumes the job to completion", async () => {
  // A stale lock and stack.json of a process that no longer exists do not block the start.
  const dead = spawnSync(process.execPath, ["-e", "process.pid"]).pid as number;
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, "up.lock"), `${dead}\n`);

  const up = startUp(["--dispatcher-port", "0", "--query-port", "0"], env);
  const stack = await up.ready();
  assert.match(up.output(), /Trace is up/);
  assert.match(up.output(), /rpc pool main\s+http:\/\/127\.0\.0\.1:\d+ \(chain 31337\)/);
  assert.doesNotMatch(
    up.output(),
    new RegExp(JSON.parse(readFileSync(join(home, "secrets.json"), "utf8")).postgres_password),
  );

  // A second `trace up` on the same home is refused while this one runs.
  const second = await trace(["up", "--dispatcher-port", "0", "--query-port", "0"], env);
  assert.equal(second.code, 1);
  assert.match(
    second.stderr,
    new RegExp(`locked by another \`trace up\` \\(pid ${up.child.pid}\\)`),
  );
  assert.ok(second.stderr.includes(home));

  const applied = await trace(["apply", yamlPath], env);
  assert.equal(applied.code, 0, applied.stderr);
  const progressed = await eventually(
    async () => {
      const st = await status();
      return st.streams.every((s) => s.ranges.completed >= 1) ? st : undefined;
    },
    90_000,
    "a completed range per stream",
  );
  assert.equal(progressed.completed, false, "the job must still be running when paused");
  await admin().pause("upjob");
  const text = await trace(["status", "--job", "upjob"], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /job upjob\s+fixed_target\s+paused/);

  // Let the in-flight ranges finish, so what is published before the stop is settled.
  const before = await eventually(
    async () => {
      const st = await status();
      return st.streams.every((s) => s.inflight === 0) ? st : undefined;
    },
    90_000,
    "in-flight ranges to finish",
  );
  const versionsBefore = await versions(stack);
  assert.ok(versionsBefore.length >= 2);

  const pgPid = postmasterPid();
  assert.equal(await up.stop("SIGINT"), 0, up.output());
  assert.match(up.output(), /stopped\./);
  assert.equal(processAlive(pgPid), false, "PostgreSQL stopped");
  assert.equal(processAlive(up.child.pid as number), false);
  assert.deepEqual(processesMentioning(home), []);
  assert.equal(existsSync(join(home, "stack.json")), false);
  assert.equal(existsSync(join(home, "up.lock")), false);

  // Same home again: the job, its cursors and its versions are where they were.
  const again = startUp(["--dispatcher-port", "0", "--query-port", "0"], env);
  const stack2 = await again.ready();
  const resumedFrom = await status();
  assert.equal(resumedFrom.enabled, false);
  assert.deepEqual(
    resumedFrom.streams.map((s) => [s.dataset_key, s.cursor, s.ranges.completed]),
    before.streams.map((s) => [s.dataset_key, s.cursor, s.ranges.completed]),
  );
  assert.deepEqual(await versions(stack2), versionsBefore);

  await admin().resume("upjob");
  const done = await eventually(
    async () => {
      const st = await status();
      return st.completed ? st : undefined;
    },
    120_000,
    "the job to complete",
  );
  assert.deepEqual(
    done.streams.map((s) => [s.dataset_key, s.cursor, s.ranges.completed, s.ranges.failed]),
    [
      ["blocks", TO, TO / 100, 0],
      ["logs", TO, TO / 100, 0],
    ],
  );
  const after2 = await versions(stack2);
  assert.equal(after2.length, (2 * TO) / 100);
  for (const v of versionsBefore) assert.ok(after2.includes(v), `version kept: ${v}`);

  const q = await trace(
    [
      "query",
      "--format",
      "json",
      "SELECT count(*) AS n, min(block_number) AS lo, max(block_number) AS hi FROM blocks",
    ],
    env,
  );
  assert.equal(q.code, 0, q.stderr);
  assert.deepEqual(JSON.parse(q.stdout).rows, [[TO, 0, TO - 1]]);

  const pgPid2 = postmasterPid();
  assert.equal(await again.stop("SIGTERM"), 0, again.output());
  assert.equal(processAlive(pgPid2), false);
  assert.deepEqual(processesMentioning(home), []);
  assert.equal(existsSync(join(home, "stack.json")), false);
  assert.equal(existsSync(join(home, "up.lock")), false);
});
