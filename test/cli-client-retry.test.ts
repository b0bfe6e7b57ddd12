/**
 * `trace status` and `trace retry-failed` on failed ranges, as child processes against a real
 * stack: ranges failed by a worker whose per-file cap every Parquet file exceeds show in status
 * (counts, last error category, age and message); `retry-failed` re-queues them and the job
 * completes once a normal worker runs. Jobs are addressed by name or id.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChainSyncAdminClient } from "../src/chain-sync/client.ts";
import { eventually } from "../src/dispatcher/testkit.ts";
import { ADMIN_TOKEN, type CliStack, startCliStack, syncYaml, trace } from "./cli-client-kit.ts";

const cli: CliStack = await startCliStack("cli_client_retry");
const { stack } = cli;
const admin = new ChainSyncAdminClient(stack.dispatcherUrl, ADMIN_TOKEN);

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
