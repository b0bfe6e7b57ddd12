import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { postJson, rpc, rpcResult } from "../../src/devnet/post.ts";
import {
  NOT_RECORDED,
  RECORDINGS_PATH,
  type RunningReplayServer,
  startReplayServer,
} from "./replay-server.ts";

// biome-ignore lint/suspicious/noExplicitAny: recorded node JSON is checked by value, not by type
type Json = Record<string, any>;
const TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

// Expectations come straight from the recordings file, read here independently of the server.
const lines: Json[] = gunzipSync(readFileSync(RECORDINGS_PATH))
  .toString("utf8")
  .split("\n")
  .filter((l) => l !== "")
  .map((l) => JSON.parse(l));
const recorded = (method: string, first: string): Json =>
  lines.find(
    (l) => l.method === method && String(l.params[0]).toLowerCase() === first.toLowerCase(),
  )!;
const block18m = recorded("eth_getBlockByNumber", "0x112a880").result;
const receipts18m: Json[] = recorded("eth_getBlockReceipts", "0x112a880").result;
const logs18m: Json[] = receipts18m.flatMap((r) => r.logs);

let srv: RunningReplayServer;
before(async () => {
  srv = await startReplayServer();
});
after(async () => {
  await srv.stop();
});

test("block 18,000,000 comes back exactly as recorded, under any spelling of its number", async () => {
  assert.equal(block18m.transactions.length, 94);
  for (const n of ["0x112A880", "0x112a880", "0x0112a880", 18_000_000]) {
    const got = await rpcResult(srv.url, "eth_getBlockByNumber", [n, true]);
    assert.deepEqual(got, block18m);
  }
  const byHash = await rpcResult(srv.url, "eth_getBlockByHash", [block18m.hash, true]);
  assert.deepEqual(byHash, block18m);
});

test("a block recorded with full transactions is served with tx hashes only for `false`", async () => {
  const got = await rpcResult<Json>(srv.url, "eth_getBlockByNumber", ["0x112a880", false]);
  assert.deepEqual(
    got.transactions,
    block18m.transactions.map((t: Json) => t.hash),
  );
  const { transactions: _a, ...restGot } = got;
  const { transactions: _b, ...restWant } = block18m;
  assert.deepEqual(restGot, restWant);
});

test("eth_getBlockReceipts returns the 94 recorded receipts; single receipts come from them too", async () => {
  const got = await rpcResult<Json[]>(srv.url, "eth_getBlockReceipts", ["0x112a880"]);
  assert.equal(got.length, 94);
  assert.deepEqual(got, receipts18m);
  const r = receipts18m[17]!;
  assert.deepEqual(await rpcResult(srv.url, "eth_getTransactionReceipt", [r.transactionHash]), r);
  // A recorded single-receipt request, and a recorded "unknown hash" answered with null.
  const single = lines.find((l) => l.method === "eth_getTransactionReceipt" && l.result !== null)!;
  assert.deepEqual(
    await rpcResult(srv.url, "eth_getTransactionReceipt", single.params),
    single.result,
  );
  const unknown = lines.find((l) => l.method === "eth_getTransactionReceipt" && l.result === null)!;
  assert.equal(await rpcResult(srv.url, "eth_getTransactionReceipt", unknown.params), null);
});

test("eth_getLogs for block 18,000,000 returns all 291 logs from the recorded receipts", async () => {
  assert.equal(logs18m.length, 291);
  const got = await rpcResult<Json[]>(srv.url, "eth_getLogs", [
    { fromBlock: "0x112a880", toBlock: "0x112a880" },
  ]);
  assert.deepEqual(got, logs18m);
  const byHash = await rpcResult<Json[]>(srv.url, "eth_getLogs", [{ blockHash: block18m.hash }]);
  assert.deepEqual(byHash, logs18m);
});

test("eth_getLogs honours address and topic filters with positional / wildcard / OR semantics", async () => {
  const range = { fromBlock: "0x112a880", toBlock: "0x112a880" };
  const get = (f: Json) => rpcResult<Json[]>(srv.url, "eth_getLogs", [{ ...range, ...f }]);

  const transfers = logs18m.filter((l) => l.topics[0] === TRANSFER);
  assert.ok(transfers.length > 0 && transfers.length < logs18m.length);
  assert.deepEqual(await get({ topics: [TRANSFER] }), transfers);
  assert.deepEqual(await get({ topics: [[TRANSFER]] }), transfers);
  assert.deepEqual(await get({ topics: [TRANSFER.toUpperCase().replace("0X", "0x")] }), transfers);

  // Second position only, first a wildcard.
  const to = transfers[0]!.topics[2];
  assert.deepEqual(
    await get({ topics: [null, null, to] }),
    logs18m.filter((l) => l.topics.length >= 3 && l.topics[2] === to),
  );
  // OR within a position.
  const other = logs18m.find((l) => l.topics.length > 0 && l.topics[0] !== TRANSFER)!.topics[0];
  assert.deepEqual(
    await get({ topics: [[TRANSFER, other]] }),
    logs18m.filter((l) => l.topics[0] === TRANSFER || l.topics[0] === other),
  );
  // More positions than a log has topics: no match (anonymous-arity logs drop out).
  assert.deepEqual(
    await get({ topics: [TRANSFER, null, null, null] }),
    transfers.filter((l) => l.topics.length === 4),
  );
  // Address: single, array (OR), and combined with topics (AND).
  const a1 = transfers[0]!.address;
  const a2 = logs18m.find((l) => l.address !== a1)!.address;
  assert.deepEqual(
    await get({ address: a1 }),
    logs18m.filter((l) => l.address === a1),
  );
  assert.deepEqual(
    await get({ address: [a1.toUpperCase().replace("0X", "0x"), a2] }),
    logs18m.filter((l) => l.address === a1 || l.address === a2),
  );
  assert.deepEqual(
    await get({ address: [a1, a2], topics: [TRANSFER] }),
    logs18m.filter((l) => (l.address === a1 || l.address === a2) && l.topics[0] === TRANSFER),
  );
});

test("recorded eth_getLogs filters are answered verbatim; ranges without receipts are errors", async () => {
  const rec = lines.find(
    (l) =>
      l.method === "eth_getLogs" &&
      l.params[0].fromBlock === "0xF42400" &&
      l.params[0].toBlock === "0xF42403",
  )!;
  assert.equal(rec.result.length, 431);
  assert.deepEqual(await rpcResult(srv.url, "eth_getLogs", rec.params), rec.result);
  // Same filter, spelled differently.
  const respelled = { fromBlock: "0xf42400", toBlock: 16_000_003, topics: [TRANSFER] };
  assert.deepEqual(await rpcResult(srv.url, "eth_getLogs", [respelled]), rec.result);

  const r = await rpc(srv.url, "eth_getLogs", [{ fromBlock: "0x112a880", toBlock: "0x112a881" }]);
  assert.equal(r.error?.code, NOT_RECORDED);
  assert.match(r.error!.message, /block 18000001/);
  const bad = await rpc(srv.url, "eth_getLogs", [{ fromBlock: "0x112a880", topics: ["0x12"] }]);
  assert.equal(bad.error?.code, -32602);
});

test("trace_block and debug_traceBlockByNumber are matched by block and tracer config", async () => {
  const traces = await rpcResult<Json[]>(srv.url, "trace_block", ["0x1048427"]);
  assert.equal(traces.length, 799);
  const withW = await rpcResult<Json[]>(srv.url, "trace_block", [
    17_073_191,
    null,
    { IncludeWithdrawals: true },
  ]);
  assert.equal(withW.length, 815);
  const calls = await rpcResult<Json[]>(srv.url, "debug_traceBlockByNumber", [
    "0x172C50B",
    { tracer: "callTracer" },
  ]);
  assert.equal(calls.length, 361);
  const flat = await rpcResult<Json[]>(srv.url, "debug_traceBlockByNumber", [
    "0x1048429",
    { tracer: "flatCallTracer" },
  ]);
  const prestate = await rpcResult<Json[]>(srv.url, "debug_traceBlockByNumber", [
    "0x1048429",
    { tracer: "prestateTracer", tracerConfig: { diffMode: true } },
  ]);
  assert.equal(flat.length, 245);
  assert.equal(prestate.length, 245);
  assert.notDeepEqual(flat[0], prestate[0]);
  const missing = await rpc(srv.url, "debug_traceBlockByNumber", [
    "0x1048429",
    { tracer: "4byteTracer" },
  ]);
  assert.equal(missing.error?.code, NOT_RECORDED);
});

test("chain id, head, batches and JSON-RPC errors", async () => {
  assert.equal(await rpcResult(srv.url, "eth_chainId"), "0x1");
  assert.equal(await rpcResult(srv.url, "eth_blockNumber"), `0x${srv.head.toString(16)}`);
  assert.equal(srv.head, 24_298_763);

  const batch = await postJson(srv.url, [
    { jsonrpc: "2.0", id: "a", method: "eth_chainId", params: [] },
    { jsonrpc: "2.0", id: 2, method: "eth_getBlockReceipts", params: ["0x112a880"] },
    { jsonrpc: "2.0", id: 3, method: "eth_sendRawTransaction", params: ["0x00"] },
    { jsonrpc: "2.0", id: 4, method: "eth_getBlockByNumber", params: ["0x1", true] },
  ]);
  const answers = JSON.parse(batch.text) as Json[];
  assert.deepEqual(
    answers.map((a) => a.id),
    ["a", 2, 3, 4],
  );
  assert.equal(answers[0]!.result, "0x1");
  assert.equal(answers[1]!.result.length, 94);
  assert.equal(answers[2]!.error.code, -32601);
  assert.equal(answers[3]!.error.code, NOT_RECORDED);

  // The recorded answer for a block that does not exist is null, as the node said.
  assert.equal(await rpcResult(srv.url, "eth_getBlockByNumber", ["0xFFFFFFFFF", false]), null);
  const parse = JSON.parse((await postJson(srv.url, "{not json")).text);
  assert.equal(parse.error.code, -32700);
});
