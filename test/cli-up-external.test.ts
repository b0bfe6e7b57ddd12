/**
 * The local stack with its defaults overridden: an existing PostgreSQL (DATABASE_URL: no
 * embedded server, no `<home>/pg`) and an S3 bucket (TRACE_OBJECT_STORE=s3://…, AWS_* from the
 * environment). A chain_sync job completes, its objects land in the bucket, and the query
 * service answers over them.
 */
import assert from "node:assert/strict";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { ChainSyncAdminClient } from "../src/chain-sync/client.ts";
import { loadOrCreateSecrets, userKey } from "../src/cli/local-stack.ts";
import { runQuery } from "../src/cli/query-client.ts";
import { startDevnet } from "../src/devnet/server.ts";
import { eventually } from "../src/dispatcher/testkit.ts";
import { startLocalStack } from "../src/stack/index.ts";
import { tempDir } from "./cli-up-kit.ts";
import { testDatabase } from "./support/postgres.ts";
import { testBucket } from "./support/s3.ts";

test("startLocalStack uses DATABASE_URL and an s3:// object store when they are set", async () => {
  const db = await testDatabase("stack_external");
  const bucket = await testBucket("stack-external");
  const devnet = await startDevnet({
    chain: {
      seed: "stack-external",
      chainId: 31337,
      length: 1_000,
      txsPerBlock: 4,
      logsPerBlock: 6,
    },
  });
  after(() => devnet.stop());
  const home = join(tempDir("stack-external"), "home");
  const stack = await startLocalStack({
    home,
    env: {
      ...bucket.env,
      DATABASE_URL: db.url,
      TRACE_OBJECT_STORE: `s3://${bucket.bucket}/trace`,
      TRACE_RPC_POOL_MAIN_URL: devnet.url,
    },
    dispatcherPort: 0,
    queryPort: 0,
    workers: 1,
    logFile: false,
  });
  try {
    assert.equal(stack.embeddedPostgres, false);
    assert.equal(existsSync(join(home, "pg")), false);
    assert.ok(!stack.databaseUrlRedacted.includes(new URL(db.url).password));
    assert.equal(stack.objectStore, `s3://${bucket.bucket}/trace`);

    const admin = { url: stack.dispatcherUrl, token: stack.secrets.admin_token };
    const client = new ChainSyncAdminClient(admin.url, admin.token);
    await client.apply(
      [
        "kind: chain_sync",
        "name: ext",
        "chain_id: 31337",
        "mode: { kind: fixed_target, from_block: 0, to_block: 200 }",
        "streams:",
        "  blocks: { cryo_dataset_name: blocks, rpc_pool: main, chunk_size: 100 }",
        "",
      ].join("\n"),
    );
    await eventually(async () => (await client.status("ext")).completed, 60_000, "job ext");

    const listed = await bucket.client.send(
      new ListObjectsV2Command({ Bucket: bucket.bucket, Prefix: "trace/cryo/" }),
    );
    const keys = (listed.Contents ?? []).map((o) => o.Key ?? "");
    assert.equal(keys.filter((k) => k.endsWith("_manifest.json")).length, 2);

    const result = await runQuery({
      query: { url: stack.queryUrl, userKey: userKey(stack.secrets), orgId: stack.secrets.org_id },
      admin,
      sql: "SELECT count(*) AS n, max(block_number) AS hi FROM blocks",
    });
    assert.deepEqual(result.rows, [[200, 199]]);
  } finally {
    await stack.stop();
  }
  assert.equal(existsSync(join(home, "stack.json")), false);
  assert.equal(existsSync(join(home, "up.lock")), false);
});

test("an older secrets.json (no PostgreSQL password) keeps its secrets and gains one", () => {
  const home = join(tempDir("secrets-upgrade"), "home");
  const { postgres_password: _, ...older } = loadOrCreateSecrets(home);
  writeFileSync(join(home, "secrets.json"), JSON.stringify(older));
  const upgraded = loadOrCreateSecrets(home);
  assert.deepEqual(
    { ...upgraded, postgres_password: undefined },
    { ...older, postgres_password: undefined },
  );
  assert.ok((upgraded.postgres_password ?? "").length >= 16);
  assert.deepEqual(loadOrCreateSecrets(home), upgraded);
  assert.equal(statSync(join(home, "secrets.json")).mode & 0o777, 0o600);
});
