import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ChainSyncAdminError } from "../src/chain-sync/client.ts";
import { ADMIN_TOKEN, type Stack, startStack, tableCounts } from "./chain-sync-kit.ts";
import { testDatabase } from "./support/postgres.ts";

const db = await testDatabase("chain_sync_yaml");
let stack: Stack;
before(async () => {
  stack = await startStack(db.url);
});
after(async () => {
  await stack.stop();
});

const STREAM = "cryo_dataset_name: blocks, rpc_pool: main, chunk_size: 100, max_inflight: 2";
const FIXED = "{ kind: fixed_target, from_block: 0, to_block: 1000 }";

/** A valid document with one line replaced; every case breaks exactly one rule. */
function doc(
  parts: { head?: string; mode?: string; streams?: string; extra?: string } = {},
): string {
  return [
    parts.head ?? "kind: chain_sync\nname: bad\nchain_id: 1",
    `mode: ${parts.mode ?? FIXED}`,
    "streams:",
    parts.streams ?? `  blocks: { ${STREAM} }`,
    parts.extra ?? "",
  ].join("\n");
}

const CASES: { what: string; yaml: string; message: RegExp }[] = [
  {
    what: "chain_id of the wrong type",
    yaml: doc({ head: "kind: chain_sync\nname: bad\nchain_id: one" }),
    message: /chain_id: chain_id must be a number/,
  },
  {
    what: "unknown top-level key",
    yaml: doc({ extra: "rpc_url: http://node" }),
    message: /\(document\): unknown field\(s\) 'rpc_url'/,
  },
  {
    what: "unknown stream key",
    yaml: doc({ streams: `  blocks: { ${STREAM}, rpc_url: x }` }),
    message: /streams\.blocks: unknown field\(s\) 'rpc_url'/,
  },
  {
    what: "unknown mode key",
    yaml: doc({ mode: "{ kind: fixed_target, from_block: 0, to_block: 10, tail_lag: 1 }" }),
    message: /mode: unknown field\(s\) 'tail_lag'/,
  },
  {
    what: "dataset_key that is not a slug",
    yaml: doc({ streams: `  Blocks-V2: { ${STREAM} }` }),
    message: /streams\.Blocks-V2: dataset_key must be 1-64 characters of a-z, 0-9 and _/,
  },
  {
    what: "cryo_dataset_name that is not a slug",
    yaml: doc({ streams: "  blocks: { cryo_dataset_name: ../etc, rpc_pool: main }" }),
    message: /streams\.blocks\.cryo_dataset_name: cryo_dataset_name must be 1-64 characters/,
  },
  {
    what: "to_block below from_block",
    yaml: doc({ mode: "{ kind: fixed_target, from_block: 500, to_block: 100 }" }),
    message: /mode\.to_block: to_block must be > from_block/,
  },
  {
    what: "to_block equal to from_block (empty range)",
    yaml: doc({ mode: "{ kind: fixed_target, from_block: 7, to_block: 7 }" }),
    message: /mode\.to_block: to_block must be > from_block \(to_block is exclusive/,
  },
  {
    what: "negative chunk_size",
    yaml: doc({
      streams: "  blocks: { cryo_dataset_name: blocks, rpc_pool: main, chunk_size: -5 }",
    }),
    message: /streams\.blocks\.chunk_size: chunk_size must be > 0/,
  },
  {
    what: "zero max_inflight",
    yaml: doc({
      streams: "  blocks: { cryo_dataset_name: blocks, rpc_pool: main, max_inflight: 0 }",
    }),
    message: /streams\.blocks\.max_inflight: max_inflight must be > 0/,
  },
  {
    what: "negative from_block",
    yaml: doc({ mode: "{ kind: fixed_target, from_block: -1, to_block: 10 }" }),
    message: /mode\.from_block: from_block must be >= 0/,
  },
  {
    what: "an RPC URL instead of a pool name",
    yaml: doc({
      streams:
        "  blocks: { cryo_dataset_name: blocks, rpc_pool: 'https://user:secret@node.example/v1' }",
    }),
    message: /streams\.blocks\.rpc_pool: rpc_pool must name a pool, not a URL/,
  },
  {
    what: "a URL (with a secret) as the job name",
    yaml: doc({ head: "kind: chain_sync\nname: 'https://u:secret@node.example'\nchain_id: 1" }),
    message: /name: name must not be a URL/,
  },
  {
    what: "huge chain_id",
    yaml: doc({ head: "kind: chain_sync\nname: bad\nchain_id: 123456789012345678901234567890" }),
    message: /chain_id: chain_id is too large/,
  },
  {
    what: "huge to_block",
    yaml: doc({ mode: "{ kind: fixed_target, from_block: 0, to_block: 99999999999999999999 }" }),
    message: /mode\.to_block: to_block must be <= 281474976710656/,
  },
  {
    what: "fractional chunk_size",
    yaml: doc({
      streams: "  blocks: { cryo_dataset_name: blocks, rpc_pool: main, chunk_size: 1.5 }",
    }),
    message: /streams\.blocks\.chunk_size: chunk_size must be an integer/,
  },
  {
    what: "wrong kind",
    yaml: doc({ head: "kind: dag\nname: bad\nchain_id: 1" }),
    message: /kind: kind must be chain_sync/,
  },
  {
    what: "unknown mode kind",
    yaml: doc({ mode: "{ kind: backfill, from_block: 0 }" }),
    message: /mode\.kind must be fixed_target or follow_head/,
  },
  {
    what: "follow_head without max_head_age_seconds",
    yaml: doc({
      mode: "{ kind: follow_head, from_block: 0, tail_lag: 5, head_poll_interval_seconds: 2 }",
    }),
    message: /mode\.max_head_age_seconds: max_head_age_seconds is required/,
  },
  {
    what: "negative tail_lag",
    yaml: doc({
      mode: "{ kind: follow_head, from_block: 0, tail_lag: -3, head_poll_interval_seconds: 2, max_head_age_seconds: 30 }",
    }),
    message: /mode\.tail_lag: tail_lag must be >= 0/,
  },
  {
    what: "no streams",
    yaml: doc({ streams: "  {}" }),
    message: /streams: streams must not be empty/,
  },
  {
    what: "empty name",
    yaml: doc({ head: "kind: chain_sync\nname: '   '\nchain_id: 1" }),
    message: /name: name must not be empty/,
  },
  {
    what: "duplicate keys",
    yaml: doc({ head: "kind: chain_sync\nname: bad\nchain_id: 1\nchain_id: 2" }),
    message: /invalid YAML: line 4, column 1: Map keys must be unique/,
  },
  {
    what: "not YAML at all",
    yaml: "kind: chain_sync\n  name: [unclosed",
    message: /invalid YAML: line \d+, column \d+/,
  },
  {
    what: "a list instead of a mapping",
    yaml: "- kind: chain_sync\n- name: bad",
    message: /the document must be a mapping/,
  },
];

test(`${CASES.length} malformed chain_sync documents each fail with a specific message and write nothing`, async () => {
  assert.ok(CASES.length >= 15);
  const empty = await tableCounts(stack.sql);
  assert.ok(
    Object.values(empty).every((n) => n === 0),
    JSON.stringify(empty),
  );
  for (const c of CASES) {
    await assert.rejects(
      stack.admin.apply(c.yaml),
      (err: unknown) => {
        assert.ok(err instanceof ChainSyncAdminError, `${c.what}: ${String(err)}`);
        assert.equal(err.status, 400, `${c.what}: ${err.message}`);
        assert.match(err.message, c.message, `${c.what}: got "${err.message}"`);
        assert.ok(err.problems.length >= 1, c.what);
        // A secret in a rejected document is never echoed back.
        assert.doesNotMatch(err.message, /secret/, c.what);
        return true;
      },
      c.what,
    );
    assert.deepEqual(await tableCounts(stack.sql), empty, `${c.what} wrote something`);
  }
  // A body that is not YAML text at all.
  const res = await fetch(`${stack.url}/admin/chain-sync/apply`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(res.status, 400);
  assert.deepEqual(await tableCounts(stack.sql), empty);
});
