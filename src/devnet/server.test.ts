import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { TRANSFER_TOPIC } from "./chain.ts";
import { postJson, rpc, rpcResult } from "./post.ts";
import { type Devnet, FAULT_KINDS, LIMIT_EXCEEDED, startDevnet } from "./server.ts";

// biome-ignore lint/suspicious/noExplicitAny: node JSON checked by value
type Json = Record<string, any>;

let dev: Devnet;
before(async () => {
  dev = await startDevnet({
    chain: { seed: "server-test", length: 2_000, txsPerBlock: 40, logsPerBlock: 80 },
  });
});
after(async () => {
  await dev.stop();
});

test("serves chain id, head and blocks by number, tag and hash, with or without full txs", async () => {
  assert.equal(await rpcResult(dev.url, "eth_chainId"), "0x7a69");
  assert.equal(await rpcResult(dev.url, "net_version"), "31337");
  assert.equal(await rpcResult(dev.url, "eth_blockNumber"), "0x7cf");
  const full = await rpcResult<Json>(dev.url, "eth_getBlockByNumber", ["0x64", true]);
  assert.deepEqual(full, dev.chain.block(100, true));
  assert.equal(full.number, "0x64");
  assert.equal(typeof full.transactions[0], "object");
  const light = await rpcResult<Json>(dev.url, "eth_getBlockByNumber", ["0x0064", false]);
  assert.deepEqual(
    light.transactions,
    full.transactions.map((t: Json) => t.hash),
  );
  const latest = await rpcResult<Json>(dev.url, "eth_getBlockByNumber", ["latest", false]);
  assert.equal(latest.number, "0x7cf");
  assert.deepEqual(await rpcResult(dev.url, "eth_getBlockByHash", [full.hash, true]), full);
  assert.equal(await rpcResult(dev.url, "eth_getBlockByNumber", ["0x7d0", false]), null);
});

test("receipts by block and by transaction; transactions by hash", async () => {
  const receipts = await rpcResult<Json[]>(dev.url, "eth_getBlockReceipts", ["0x65"]);
  assert.deepEqual(receipts, dev.chain.receipts(101));
  const byHash = await rpcResult<Json[]>(dev.url, "eth_getBlockReceipts", [
    dev.chain.blockHash(101),
  ]);
  assert.deepEqual(byHash, receipts);
  const r = receipts[receipts.length - 1]!;
  assert.deepEqual(await rpcResult(dev.url, "eth_getTransactionReceipt", [r.transactionHash]), r);
  const tx = await rpcResult<Json>(dev.url, "eth_getTransactionByHash", [r.transactionHash]);
  assert.deepEqual(tx, dev.chain.block(101, true)!.transactions[receipts.length - 1]);
  assert.equal(
    await rpcResult(dev.url, "eth_getTransactionReceipt", [`0x${"ab".repeat(32)}`]),
    null,
  );
});

test("eth_getLogs: range, blockHash, address and positional topic filters", async () => {
  const all: Json[] = [];
  for (let n = 200; n <= 204; n++) all.push(...dev.chain.receipts(n)!.flatMap((r) => r.logs));
  const get = (f: Json) =>
    rpcResult<Json[]>(dev.url, "eth_getLogs", [{ fromBlock: "0xc8", toBlock: "0xcc", ...f }]);
  assert.deepEqual(await get({}), all);
  assert.deepEqual(
    await get({ topics: [TRANSFER_TOPIC] }),
    all.filter((l) => l.topics[0] === TRANSFER_TOPIC),
  );
  const t = all.find((l) => l.topics.length === 3)!;
  assert.deepEqual(
    await get({ topics: [null, t.topics[1]] }),
    all.filter((l) => l.topics.length >= 2 && l.topics[1] === t.topics[1]),
  );
  assert.deepEqual(
    await get({ address: [t.address], topics: [[TRANSFER_TOPIC, t.topics[0]], null, null] }),
    all.filter(
      (l) =>
        l.address === t.address &&
        l.topics.length >= 3 &&
        (l.topics[0] === TRANSFER_TOPIC || l.topics[0] === t.topics[0]),
    ),
  );
  const one = await rpcResult<Json[]>(dev.url, "eth_getLogs", [
    { blockHash: dev.chain.blockHash(202) },
  ]);
  assert.deepEqual(
    one,
    dev.chain.receipts(202)!.flatMap((r) => r.logs),
  );
  const beyond = await rpc(dev.url, "eth_getLogs", [{ fromBlock: "0x7cf", toBlock: "0x7d0" }]);
  assert.match(beyond.error!.message, /beyond current head/);
  const reversed = await rpc(dev.url, "eth_getLogs", [{ fromBlock: "0x10", toBlock: "0x5" }]);
  assert.equal(reversed.error!.code, -32000);
});

test("batches, notifications and JSON-RPC errors", async () => {
  const res = await postJson(dev.url, [
    { jsonrpc: "2.0", id: 1, method: "eth_getBlockByNumber", params: ["0x1", false] },
    { jsonrpc: "2.0", method: "eth_chainId", params: [] },
    { jsonrpc: "2.0", id: "x", method: "eth_nope", params: [] },
    { jsonrpc: "2.0", id: 3, method: "eth_getBlockByNumber", params: ["one", false] },
    { jsonrpc: "2.0", id: 4, method: "eth_getBlockByNumber", params: ["0x1"] },
    { jsonrpc: "1.0", id: 5, method: "eth_chainId" },
    { jsonrpc: "2.0", id: 6, method: "eth_chainId", params: { a: 1 } },
    7,
  ]);
  assert.equal(res.status, 200);
  const out = JSON.parse(res.text) as Json[];
  assert.deepEqual(
    out.map((o) => [o.id, o.error?.code ?? "ok"]),
    [
      [1, "ok"],
      ["x", -32601],
      [3, -32602],
      [4, -32602],
      [5, -32600],
      [6, -32602],
      [null, -32600],
    ],
  );
  assert.equal(JSON.parse((await postJson(dev.url, "[")).text).error.code, -32700);
  assert.equal(JSON.parse((await postJson(dev.url, "[]")).text).error.code, -32600);
  const note = await postJson(dev.url, { jsonrpc: "2.0", method: "eth_chainId", params: [] });
  assert.equal(note.status, 204);
  const get = await fetch(dev.url);
  assert.equal(get.status, 405);
  await get.body?.cancel();
});

test("each fault kind is observable, and fault sequences are deterministic", async () => {
  const call = { jsonrpc: "2.0", id: 1, method: "eth_getBlockByNumber", params: ["0x10", false] };
  try {
    dev.setFaults({ rate: 1, kinds: ["http429"], retryAfterSeconds: 3 });
    const r429 = await postJson(dev.url, call);
    assert.equal(r429.status, 429);
    assert.equal(r429.headers.get("retry-after"), "3");

    dev.setFaults({ rate: 1, kinds: ["http500"] });
    assert.equal((await postJson(dev.url, call)).status, 500);

    dev.setFaults({ rate: 1, kinds: ["truncated"] });
    const cut = await postJson(dev.url, call);
    assert.equal(cut.status, 200);
    assert.throws(() => JSON.parse(cut.text), SyntaxError);

    dev.setFaults({ rate: 1, kinds: ["wrong_block"] });
    const wrong = JSON.parse((await postJson(dev.url, call)).text);
    assert.equal(wrong.result.number, "0x11");

    dev.setFaults({ rate: 1, kinds: ["rpc_error"] });
    const limited = JSON.parse(
      (await postJson(dev.url, [call, { ...call, id: 2 }])).text,
    ) as Json[];
    assert.deepEqual(
      limited.map((x) => x.error.code),
      [LIMIT_EXCEEDED, LIMIT_EXCEEDED],
    );

    // A hung request: the client gives up (aborts); the server never answered.
    dev.setFaults({ rate: 1, kinds: ["timeout"], hangMs: 60_000 });
    await assert.rejects(postJson(dev.url, call, AbortSignal.timeout(300)), (e: Error) =>
      ["TimeoutError", "AbortError"].includes(e.name),
    );
    // The server drops the connection itself after hangMs.
    dev.setFaults({ rate: 1, kinds: ["timeout"], hangMs: 50 });
    await assert.rejects(postJson(dev.url, call));

    const outcomes = async () => {
      dev.setFaults({
        rate: 0.4,
        seed: 9,
        kinds: ["http429", "http500", "truncated", "rpc_error"],
      });
      const seen: string[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await postJson(dev.url, call);
        seen.push(
          r.status !== 200
            ? String(r.status)
            : r.text.includes("limit exceeded")
              ? "rpc"
              : r.text.endsWith("}")
                ? "ok"
                : "cut",
        );
      }
      return seen;
    };
    const first = await outcomes();
    assert.deepEqual(await outcomes(), first);
    assert.ok(first.includes("ok") && first.some((x) => x !== "ok"));
    const s = dev.stats();
    assert.ok(s.faultsInjected > 0);
    for (const k of FAULT_KINDS) assert.ok(s.faultsByKind[k] > 0, k);
  } finally {
    dev.setFaults(undefined);
  }
  assert.equal((await postJson(dev.url, call)).status, 200);
});

test("persistent garbage, disabled block receipts and log range limits", async () => {
  const bad = await startDevnet({
    chain: dev.chain,
    corrupt: { receiptsBlockHashFor: [7] },
    disableBlockReceipts: true,
    maxLogsBlockRange: 10,
  });
  try {
    const missing = await rpc(bad.url, "eth_getBlockReceipts", ["0x7"]);
    assert.equal(missing.error?.code, -32601);
    const hash = dev.chain.txHash(7, 0);
    const r = await rpcResult<Json>(bad.url, "eth_getTransactionReceipt", [hash]);
    assert.notEqual(r.blockHash, dev.chain.blockHash(7));
    assert.equal(r.blockNumber, "0x7");
    const fine = await rpcResult<Json>(bad.url, "eth_getTransactionReceipt", [
      dev.chain.txHash(8, 0),
    ]);
    assert.equal(fine.blockHash, dev.chain.blockHash(8));
    const big = await rpc(bad.url, "eth_getLogs", [{ fromBlock: "0x0", toBlock: "0xa" }]);
    assert.equal(big.error?.code, LIMIT_EXCEEDED);
    assert.equal(bad.stats().callsByMethod.eth_getTransactionReceipt, 2);
  } finally {
    await bad.stop();
  }
});

test("latencyMs holds every answer that long, and changes nothing in it", async () => {
  const slow = await startDevnet({ chain: dev.chain, latencyMs: 150 });
  try {
    const started = performance.now();
    const block = await rpcResult<Json>(slow.url, "eth_getBlockByNumber", ["0x64", true]);
    const took = performance.now() - started;
    assert.deepEqual(block, dev.chain.block(100, true));
    // A lower bound set by the server's wait (not a speed assertion); 5 ms for timer rounding.
    assert.ok(took >= 145, `answered after ${took.toFixed(0)} ms`);
  } finally {
    await slow.stop();
  }
});

test("trace_block and debug_traceBlockByNumber (callTracer) agree with the block and its receipts", async () => {
  // Find a block with a failed transaction and a contract creation to cover both shapes.
  let n = 1;
  for (; n < 2_000; n++) {
    const rs = dev.chain.receipts(n)!;
    if (rs.some((r) => r.status === "0x0") && rs.some((r) => r.contractAddress)) break;
  }
  const block = dev.chain.block(n, true)!;
  const receipts = dev.chain.receipts(n)!;
  const flat = await rpcResult<Json[]>(dev.url, "trace_block", [toHex(n)]);
  const tops = flat.filter((t) => t.traceAddress.length === 0);
  assert.deepEqual(
    tops.map((t) => t.transactionHash),
    block.transactions.map((t: Json) => t.hash),
  );
  for (const t of flat) {
    assert.equal(t.blockHash, block.hash);
    assert.equal(t.blockNumber, n);
    const r = receipts[t.transactionPosition]!;
    assert.equal(r.transactionHash, t.transactionHash);
    if (t.traceAddress.length === 0) {
      // Children follow their parent, numbered 0..subtraces-1.
      const kids = flat.filter(
        (k) => k.transactionHash === t.transactionHash && k.traceAddress.length === 1,
      );
      assert.deepEqual(
        kids.map((k) => k.traceAddress[0]),
        [...Array(t.subtraces).keys()],
      );
      // Nested calls go to the other contracts that logged in this transaction.
      const self = t.type === "create" ? r.contractAddress : t.action.to;
      const emitters = new Set(
        r.logs.map((l: Json) => l.address).filter((a: string) => a !== self),
      );
      assert.deepEqual(new Set(kids.map((k) => k.action.to)), emitters);
      if (r.status === "0x0") assert.equal(t.error, "Reverted");
      else if (t.type === "create") assert.equal(t.result.address, r.contractAddress);
      else assert.ok(Number(t.result.gasUsed) <= Number(t.action.gas));
    }
  }
  assert.ok(flat.some((t) => t.error === "Reverted"));
  assert.ok(flat.some((t) => t.type === "create"));

  const geth = await rpcResult<Json[]>(dev.url, "debug_traceBlockByNumber", [
    toHex(n),
    { tracer: "callTracer" },
  ]);
  assert.deepEqual(
    geth.map((g) => g.txHash),
    block.transactions.map((t: Json) => t.hash),
  );
  geth.forEach((g, i) => {
    assert.equal(g.result.from, block.transactions[i].from);
    assert.equal(g.result.type, block.transactions[i].to === null ? "CREATE" : "CALL");
    assert.equal(g.result.error === "execution reverted", receipts[i]!.status === "0x0");
    assert.equal(g.result.calls?.length ?? 0, tops[i]!.subtraces);
  });
  // Without the call tracer there is nothing honest to return.
  const noTracer = await rpc(dev.url, "debug_traceBlockByNumber", [toHex(n), {}]);
  assert.equal(noTracer.error?.code, -32602);
  assert.match(noTracer.error?.message ?? "", /callTracer/);
  assert.equal(await rpcResult(dev.url, "trace_block", ["0x7d0"]), null);
});

function toHex(n: number): string {
  return `0x${n.toString(16)}`;
}
