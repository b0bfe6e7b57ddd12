/**
 * `trace apply / status / pause / resume / retry-failed / query` as child processes against a
 * real stack in this process: a job applied from a file is paused (status says so, the planner
 * plans nothing), resumed, watched to completion, and queried — and the rows match the chain.
 * Failed ranges (a worker whose cap every file exceeds) show in status and `retry-failed`
 * re-queues them until they complete.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChainSyncAdminClient } from "../src/chain-sync/client.ts";
import { eventually } from "../src/dispatcher/testkit.ts";
import { ADMIN_TOKEN, type CliStack, startCliStack, syncYaml, trace } from "./cli-client-kit.ts";
import { freePort } from "./support/net.ts";

// Nobody listens there (bound, then released).
const closedPort = await freePort();
const cli: CliStack = await startCliStack("cli_client");
const { stack } = cli;
const chain = stack.devnet.chain;
const FROM = 0;
const TO = 400;

interface JsonStatus {
  name: string;
  enabled: boolean;
  completed: boolean;
  streams: {
    dataset_key: string;
    cursor: number;
    inflight: number;
    ranges: { completed: number; failed: number };
    last_error: { category: string } | null;
  }[];
}

/** `trace status --json` (a child process). */
async function jsonStatus(job: string): Promise<JsonStatus> {
  const r = await trace(cli, ["status", "--job", job, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as JsonStatus;
}

// Polling between CLI steps goes through the admin API directly (a child per poll is slow).
const admin = new ChainSyncAdminClient(stack.dispatcherUrl, ADMIN_TOKEN);

test("apply → pause → resume → status --watch to completion → query matches the chain", async () => {
  const empty = await trace(cli, ["status"]);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stdout, /no chain_sync jobs yet/);

  const file = cli.writeFile(
    "sync.yaml",
    syncYaml({
      name: "cli_demo",
      from: FROM,
      to: TO,
      datasets: ["blocks", "transactions", "logs"],
    }),
  );
  // No worker yet: nothing completes before the pause.
  const applied = await trace(cli, ["apply", file]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /^job cli_demo created \([0-9a-f-]{36}\)\n/);

  const paused = await trace(cli, ["pause", "cli_demo"]);
  assert.equal(paused.code, 0, paused.stderr);
  assert.equal(paused.stdout, "job cli_demo paused\n");
  const again = await trace(cli, ["pause", "cli_demo"]);
  assert.equal(again.stdout, "job cli_demo was already paused\n");

  const text = await trace(cli, ["status"]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    /^job cli_demo {2}fixed_target {2}paused {2}syncing {2}chain 31337 {2}blocks \[0, 400\)/,
  );
  for (const key of ["blocks", "transactions", "logs"])
    assert.match(
      text.stdout,
      new RegExp(`\\n {2}${key} +\\[[#-]+\\] +\\d+\\.\\d% {2}\\d+/400 blocks\\n`),
    );

  // Paused: the planner plans nothing more; the ranges already in flight finish.
  const before = await jsonStatus("cli_demo");
  assert.equal(before.enabled, false);
  assert.equal((await stack.dispatcher.planOnce()).scheduled, 0);
  await stack.worker().start();
  const drained = await eventually(
    async () => {
      const s = await admin.status("cli_demo");
      return s.streams.every((x) => x.inflight === 0) ? s : undefined;
    },
    60_000,
    "ranges in flight to finish",
  );
  assert.equal((await stack.dispatcher.planOnce()).scheduled, 0, "still paused");
  assert.equal(drained.completed, false);
  for (const s of drained.streams) {
    assert.ok(s.cursor < TO, `${s.dataset_key} stopped at ${s.cursor}`);
    assert.equal(s.cursor, before.streams.find((b) => b.dataset_key === s.dataset_key)?.cursor);
  }

  const resumed = await trace(cli, ["resume", "cli_demo"]);
  assert.equal(resumed.stdout, "job cli_demo resumed\n");
  // Not a TTY: a timestamped block per change, and the command ends when the job completes.
  const watched = await trace(cli, ["status", "--job", "cli_demo", "--watch", "--interval", "1"], {
    timeoutMs: 90_000,
  });
  assert.equal(watched.code, 0, watched.stderr);
  const blocks = watched.stdout.split(/^-- \S+\n/m).filter(Boolean);
  const last = blocks.at(-1) ?? "";
  assert.match(last, /^job cli_demo {2}fixed_target {2}active {2}completed /);
  assert.equal(last.match(/\[#+\] 100\.0% {2}400\/400 blocks/g)?.length, 3);
  assert.equal(last.match(/ranges 4 done · 0 failed · 0 in flight/g)?.length, 3);

  // The published data, through the query service with the locally minted dev token.
  // Independent queries run side by side (each is its own process).
  const [q, perBlock, table, narrowed, unknown, rejected, badSecret, unreachable] =
    await Promise.all([
      trace(cli, [
        "query",
        "--format",
        "json",
        "SELECT block_number, block_hash, timestamp FROM blocks ORDER BY block_number",
      ]),
      trace(cli, [
        "query",
        "--dataset",
        "transactions",
        "--format",
        "csv",
        "SELECT block_number, count(*) AS txs FROM transactions GROUP BY 1 ORDER BY 1",
      ]),
      trace(cli, ["query", "SELECT count(*) AS n FROM logs"]),
      // Only the datasets asked for are attached.
      trace(cli, ["query", "--dataset", "logs", "SELECT count(*) FROM blocks"]),
      trace(cli, ["query", "--dataset", "blocks,receipts", "SELECT 1"]),
      trace(cli, ["query", "DELETE FROM blocks"]),
      trace(cli, ["query", "SELECT 1"], { env: { TRACE_USER_TOKEN_SECRET: "x".repeat(40) } }),
      trace(cli, ["query", "SELECT 1"], {
        env: { TRACE_QUERY_URL: `http://127.0.0.1:${closedPort}` },
      }),
    ]);
  assert.equal(q.code, 0, q.stderr);
  const result = JSON.parse(q.stdout) as {
    columns: { name: string }[];
    rows: unknown[][];
    truncated: boolean;
  };
  assert.deepEqual(
    result.columns.map((c) => c.name),
    ["block_number", "block_hash", "timestamp"],
  );
  assert.equal(result.truncated, false);
  assert.deepEqual(
    result.rows,
    Array.from({ length: TO - FROM }, (_, i) => [
      FROM + i,
      chain.blockHash(FROM + i),
      chain.timestamp(FROM + i),
    ]),
  );

  assert.equal(perBlock.code, 0, perBlock.stderr);
  const expected = ["block_number,txs"];
  for (let n = FROM; n < TO; n++)
    if (chain.txCount(n) > 0) expected.push(`${n},${chain.txCount(n)}`);
  assert.equal(perBlock.stdout, `${expected.join("\r\n")}\r\n`);

  let logs = 0;
  for (let n = FROM; n < TO; n++)
    for (const r of JSON.parse(chain.receiptsJson(n) ?? "[]") as { logs: unknown[] }[])
      logs += r.logs.length;
  assert.equal(table.code, 0, table.stderr);
  assert.equal(
    table.stdout,
    `${"n".padStart(String(logs).length)}\n${"-".repeat(String(logs).length)}\n${logs}\n(1 row)\n`,
  );

  assert.equal(narrowed.code, 1);
  assert.equal(narrowed.stderr, "error: query refused: query could not be planned\n");

  // Bad input and unusable services: the specific message, a non-zero exit, nothing on stdout.
  for (const r of [narrowed, unknown, rejected, badSecret, unreachable]) assert.equal(r.stdout, "");
  assert.equal(unknown.code, 2);
  assert.equal(
    unknown.stderr,
    'error: unknown dataset "receipts": the published datasets are blocks, logs, transactions\n',
  );
  assert.equal(rejected.code, 1);
  assert.match(rejected.stderr, /^error: query refused: .+\n$/);
  assert.equal(badSecret.code, 1);
  assert.match(
    badSecret.stderr,
    /^error: the query service at http:\/\/127\.0\.0\.1:\d+ refused the dev token \(invalid authorization\): TRACE_USER_TOKEN_SECRET must be/,
  );
  assert.equal(unreachable.code, 1);
  assert.match(
    unreachable.stderr,
    /^error: cannot reach the query service at http:\/\/127\.0\.0\.1:\d+: connection refused/,
  );
});

test("failed ranges show in status; retry-failed re-queues them and the job completes", async () => {
  // A worker whose per-file cap every Parquet file exceeds: each range fails fatally.
  await Promise.all(stack.workers.map((w) => w.stop({ deadlineMs: 5_000 })));
  await stack.worker({ caps: { maxBytesPerFile: 1_000 } }).start();
  const file = cli.writeFile(
    "capped.yaml",
    syncYaml({
      name: "cli_capped",
      from: 1_000,
      to: 1_200,
      datasets: ["blocks"],
      keyPrefix: "capped_",
    }),
  );
  const applied = await trace(cli, ["apply", file]);
  assert.equal(applied.code, 0, applied.stderr);
  await eventually(
    async () => {
      const s = await admin.status("cli_capped");
      return s.streams[0]?.ranges.failed === 2 && s.streams[0].inflight === 0;
    },
    60_000,
    "both ranges to fail",
  );
  const text = await trace(cli, ["status", "--job", "cli_capped"]);
  assert.match(text.stdout, /ranges 0 done · 2 failed · 0 in flight/);
  assert.match(text.stdout, /last error: cap_exceeded \(/);
  assert.match(text.stdout, /range \[1\d00, 1\d00\) failed: /);
  assert.match(text.stdout, /ETA \?/);

  const unknownStream = await trace(cli, ["retry-failed", "cli_capped", "--dataset", "logs"]);
  assert.equal(unknownStream.code, 2);
  assert.match(
    unknownStream.stderr,
    /job cli_capped has no stream "logs": its streams are capped_blocks/,
  );

  await Promise.all(stack.workers.map((w) => w.stop({ deadlineMs: 5_000 })));
  await stack.worker().start();
  const retried = await trace(cli, ["retry-failed", "cli_capped", "--dataset", "capped_blocks"]);
  assert.equal(retried.code, 0, retried.stderr);
  assert.match(retried.stdout, /^re-queued 2 failed range\(s\) of job cli_capped:\n/);
  assert.match(
    retried.stdout,
    /\n {2}capped_blocks \[1000, 1100\) attempt 2 \(task [0-9a-f-]{36}\)\n/,
  );
  const watched = await trace(cli, ["status", "--job", "cli_capped", "--watch"], {
    timeoutMs: 90_000,
  });
  assert.equal(watched.code, 0, watched.stderr);
  assert.match(
    watched.stdout.split(/^-- \S+\n/m).at(-1) ?? "",
    /completed[\s\S]*ranges 2 done · 0 failed · 0 in flight/,
  );

  const nothing = await trace(cli, ["retry-failed", "cli_capped"]);
  assert.equal(nothing.stdout, "no failed ranges in job cli_capped\n");
  // A job id works where a name does.
  const { job_id } = JSON.parse(
    (await trace(cli, ["status", "--job", "cli_capped", "--json"])).stdout,
  );
  const byId = await trace(cli, ["pause", job_id]);
  assert.equal(byId.stdout, "job cli_capped paused\n");
});
