import assert from "node:assert/strict";
import { test } from "node:test";
import { parseChainSyncYaml, SpecError } from "./chain-sync-spec.ts";
import { redactUrl, resolveRpcPool, rpcPoolEnvVar } from "./rpc-pools.ts";

const good = `
kind: chain_sync
name: mainnet_core
chain_id: 1
mode:
  kind: fixed_target
  from_block: 18000000
  to_block: 18010000
streams:
  blocks:
    cryo_dataset_name: blocks
    rpc_pool: standard
    chunk_size: 1000
    max_inflight: 4
  logs:
    cryo_dataset_name: logs
    rpc_pool: standard
`;

test("a valid spec parses, with defaults for chunk_size and max_inflight", () => {
  const s = parseChainSyncYaml(good);
  assert.equal(s.name, "mainnet_core");
  assert.deepEqual(s.mode, { kind: "fixed_target", from_block: 18000000, to_block: 18010000 });
  assert.equal(s.streams.blocks?.chunk_size, 1000);
  assert.equal(s.streams.logs?.chunk_size, 1000);
  assert.equal(s.streams.logs?.max_inflight, 10);
});

test("follow_head parses", () => {
  const s = parseChainSyncYaml(`
kind: chain_sync
name: tip
chain_id: 1
mode: { kind: follow_head, from_block: 0, tail_lag: 5, head_poll_interval_seconds: 2, max_head_age_seconds: 30 }
streams: { blocks: { cryo_dataset_name: blocks, rpc_pool: standard } }
`);
  assert.equal(s.mode.kind, "follow_head");
});

const replace = (from: string, to: string) => {
  assert.ok(good.includes(from), `fixture lacks ${from}`);
  return good.replace(from, to);
};

// Each malformed document must fail with a message naming the path and the problem.
const malformed: [string, string, RegExp][] = [
  ["not yaml", "kind: chain_sync\n  name: [unclosed", /invalid YAML: line \d+/],
  ["a list, not a mapping", "- a\n- b\n", /must be a mapping/],
  ["wrong kind", replace("kind: chain_sync", "kind: dag"), /kind: kind must be chain_sync/],
  [
    "unknown top-level key",
    replace("chain_id: 1", "chain_id: 1\nextra: true"),
    /\(document\): unknown field\(s\) 'extra'/,
  ],
  [
    "unknown stream key",
    replace("chunk_size: 1000", "chunk_size: 1000\n    rpc_url: x"),
    /streams\.blocks: unknown field\(s\) 'rpc_url'/,
  ],
  [
    "unknown mode key",
    replace("to_block: 18010000", "to_block: 18010000\n  tail_lag: 3"),
    /mode: unknown field\(s\) 'tail_lag'/,
  ],
  [
    "chain_id as string",
    replace("chain_id: 1", "chain_id: one"),
    /chain_id: chain_id must be a number/,
  ],
  ["chain_id zero", replace("chain_id: 1", "chain_id: 0"), /chain_id: chain_id must be > 0/],
  [
    "to_block equal to from_block",
    replace("to_block: 18010000", "to_block: 18000000"),
    /mode\.to_block: to_block must be > from_block/,
  ],
  [
    "to_block before from_block",
    replace("to_block: 18010000", "to_block: 5"),
    /to_block must be > from_block/,
  ],
  [
    "negative from_block",
    replace("from_block: 18000000", "from_block: -1"),
    /mode\.from_block: from_block must be >= 0/,
  ],
  [
    "fractional block",
    replace("from_block: 18000000", "from_block: 1.5"),
    /from_block must be an integer/,
  ],
  [
    "huge number",
    replace("to_block: 18010000", "to_block: 99999999999999999999999"),
    /mode\.to_block: to_block must be <= /,
  ],
  [
    "bad mode kind",
    replace("kind: fixed_target", "kind: sometimes"),
    /mode\.kind must be fixed_target or follow_head/,
  ],
  [
    "bad dataset key slug",
    replace("  blocks:\n", "  Blocks-X:\n"),
    /streams\.Blocks-X: dataset_key must be/,
  ],
  [
    "bad cryo_dataset_name",
    replace("cryo_dataset_name: blocks", "cryo_dataset_name: 'blocks; rm -rf'"),
    /streams\.blocks\.cryo_dataset_name/,
  ],
  [
    "URL in YAML",
    replace(
      "rpc_pool: standard\n    chunk_size",
      "rpc_pool: https://user:key@rpc.example/v2\n    chunk_size",
    ),
    /streams\.blocks\.rpc_pool: rpc_pool must name a pool, not a URL/,
  ],
  [
    "negative chunk size",
    replace("chunk_size: 1000", "chunk_size: -5"),
    /streams\.blocks\.chunk_size: chunk_size must be > 0/,
  ],
  [
    "zero max_inflight",
    replace("max_inflight: 4", "max_inflight: 0"),
    /streams\.blocks\.max_inflight: max_inflight must be > 0/,
  ],
  [
    "empty streams",
    good.slice(0, good.indexOf("streams:")) + "streams: {}\n",
    /streams: streams must not be empty/,
  ],
  ["empty name", replace("name: mainnet_core", "name: '  '"), /name: name must not be empty/],
  [
    "URL as name",
    replace("name: mainnet_core", "name: 'https://user:key@rpc.example/v2'"),
    /name: name must not be a URL/,
  ],
  [
    "control characters in name",
    replace("name: mainnet_core", 'name: "core\\u0007\\nsync"'),
    /name: name must not contain control characters/,
  ],
  [
    "duplicate key",
    replace("chain_id: 1", "chain_id: 1\nchain_id: 2"),
    /invalid YAML.*[Mm]ap keys must be unique/,
  ],
  [
    "follow_head missing fields",
    replace(
      "kind: fixed_target\n  from_block: 18000000\n  to_block: 18010000",
      "kind: follow_head\n  from_block: 0",
    ),
    /mode\.tail_lag: tail_lag is required/,
  ],
];

for (const [label, doc, expected] of malformed) {
  test(`malformed spec is rejected: ${label}`, () => {
    assert.throws(
      () => parseChainSyncYaml(doc),
      (err: unknown) => {
        assert.ok(err instanceof SpecError, `expected SpecError, got ${err}`);
        assert.match(err.message, expected);
        return true;
      },
    );
  });
}

test("secrets in a rejected URL are not echoed", () => {
  const doc = replace(
    "rpc_pool: standard\n    chunk_size",
    "rpc_pool: https://user:s3cr3t@rpc.example/v2\n    chunk_size",
  );
  assert.throws(
    () => parseChainSyncYaml(doc),
    (err: Error) => !err.message.includes("s3cr3t"),
  );
});

test("rpc pools resolve from the environment only", () => {
  assert.equal(rpcPoolEnvVar("standard"), "TRACE_RPC_POOL_STANDARD_URL");
  assert.equal(rpcPoolEnvVar("my-pool.x"), "TRACE_RPC_POOL_MY_POOL_X_URL");
  assert.deepEqual(
    resolveRpcPool("standard", {
      TRACE_RPC_POOL_STANDARD_URL: "http://127.0.0.1:1, http://127.0.0.1:2",
    }),
    ["http://127.0.0.1:1", "http://127.0.0.1:2"],
  );
  assert.throws(() => resolveRpcPool("standard", {}), /set TRACE_RPC_POOL_STANDARD_URL/);
  assert.throws(() => resolveRpcPool("x", { TRACE_RPC_POOL_X_URL: "ftp://a" }), /http/);
  assert.equal(
    redactUrl("https://user:pw@eth.example.com/v2/APIKEY?x=1"),
    "https://eth.example.com/…",
  );
});
