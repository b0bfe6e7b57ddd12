/**
 * `trace apply / status / pause / resume / retry-failed / query` as child processes against a
 * real stack in this process: a job applied from a file is paused (status says so, the planner
 * plans nothing), resumed, watched to completion, and queried — and the rows match the chain.
 * (Failed ranges and `retry-failed`: cli-client-retry.test.ts.)
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChainSyncAdminClient } from "../src/chain-sync/client.ts";
import { chainSyncDatasetGrants } from "../src/chain-sync/grants.ts";
import { viewGrants } from "../src/cli/query-client.ts";
import { DEFAULT_ORG_ID } from "../src/core/ids.ts";
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

  // The dev token names each dataset's view as the server side does.
  assert.deepEqual(
    viewGrants(await admin.datasets()).map(({ dataset_uuid, name }) => ({ dataset_uuid, name })),
    await chainSyncDatasetGrants(stack.sql, DEFAULT_ORG_ID),
  );

  // The published data, through the query service with the locally minted dev token.
  // Independent queries run side by side (each is its own process).
  const [q, perBlock, table, narrowed, unknown, rejected, badSecret, unreachable, fromStdin] =
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
      trace(cli, ["query", "--format", "csv", "-"], {
        input:
          "SELECT count(*) AS n, min(block_number) AS lo, max(block_number) AS hi\nFROM blocks\n",
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

  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  assert.equal(fromStdin.stdout, `n,lo,hi\r\n${TO - FROM},${FROM},${TO - 1}\r\n`);

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
