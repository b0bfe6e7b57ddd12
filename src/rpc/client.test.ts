import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { RpcClient } from "./client.ts";
import { parseHexQuantity } from "./hex.ts";
import { answerFrom, recordedChain, syntheticChain } from "./testing/chain.ts";
import { type FaultServer, startFaultServer } from "./testing/fault-server.ts";

const FAST = { baseMs: 1, maxMs: 5 };

describe("RpcClient on real mainnet block 18,000,000", () => {
  let server: FaultServer;
  let client: RpcClient;
  before(async () => {
    server = await startFaultServer({ answer: answerFrom(recordedChain()) });
    client = new RpcClient({ urls: [server.url], backoff: FAST, endpointCooldown: FAST });
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  test("chainId, blockNumber and a full block", async () => {
    assert.equal(await client.chainId(), 1);
    assert.equal(await client.blockNumber(), 20_000_000);
    const [block] = await client.getBlocks([18_000_000], true);
    assert.equal(block!.number, "0x112a880");
    assert.equal(block!.transactions.length, 94);
  });

  test("block receipts are validated against the block: 94 receipts, 291 logs, 2 failed", async () => {
    const [block] = await client.getBlocks([18_000_000], true);
    const receipts = await client.getBlockReceipts(block!);
    assert.equal(receipts.length, 94);
    assert.equal(
      receipts.reduce((s, r) => s + r.logs.length, 0),
      291,
    );
    assert.equal(receipts.filter((r) => r.status === "0x0").length, 2);
  });

  test("getBlocksWithReceipts and getLogs agree", async () => {
    const [first] = await client.getBlocksWithReceipts([18_000_000]);
    const { block, receipts } = first!;
    assert.equal(receipts.length, 94);
    const logs = await client.getLogs({ fromBlock: 18_000_000, toBlock: 18_000_000 });
    assert.equal(logs.length, 291);
    assert.ok(logs.every((l) => l.blockHash === block.hash));
    assert.deepEqual(
      logs,
      receipts.flatMap((r) => r.logs),
    );
  });
});

describe("batching", () => {
  test("splits into batches of batchSize and returns results in the order asked", async () => {
    const server = await startFaultServer({
      answer: answerFrom(syntheticChain()),
      fault: () => ({ kind: "reverse" }),
    });
    const client = new RpcClient({
      urls: [server.url],
      batchSize: 7,
      backoff: FAST,
      endpointCooldown: FAST,
    });
    try {
      const numbers = Array.from({ length: 50 }, (_, i) => 1000 - i * 3);
      const blocks = await client.getBlocks(numbers, false);
      assert.deepEqual(
        blocks.map((b) => parseHexQuantity(b.number)),
        numbers,
      );
      assert.equal(server.requests, Math.ceil(50 / 7));
      assert.ok(server.log.every((calls) => calls.length <= 7));
      const raw = await client.batch<string>(
        numbers
          .slice(0, 10)
          .map((n) => ({ method: "eth_getBlockByNumber", params: [`0x${n.toString(16)}`, false] })),
      );
      assert.deepEqual(
        raw.map((b) => (b as unknown as { number: string }).number),
        numbers.slice(0, 10).map((n) => `0x${n.toString(16)}`),
      );
    } finally {
      await client.close();
      await server.close();
    }
  });

  test("the concurrency cap is never exceeded (counted in the server)", async () => {
    const server = await startFaultServer({ answer: answerFrom(syntheticChain()), delayMs: 20 });
    const client = new RpcClient({
      urls: [server.url],
      batchSize: 2,
      maxConcurrentRequests: 4,
      backoff: FAST,
      endpointCooldown: FAST,
    });
    try {
      const numbers = Array.from({ length: 80 }, (_, i) => i);
      const blocks = await client.getBlocks(numbers, false);
      assert.equal(blocks.length, 80);
      assert.equal(server.requests, 40);
      assert.ok(server.maxInFlight <= 4, `max in flight ${server.maxInFlight}`);
      assert.equal(server.maxInFlight, 4); // and the cap is actually used
    } finally {
      await client.close();
      await server.close();
    }
  });
});

describe("response bodies", () => {
  test("UTF-8 bodies decode as UTF-8 (BOM dropped), large ASCII bodies unchanged", async () => {
    const big = `0x${"ab".repeat(700_000)}`; // > 1 MB: Node decodes it off the V8 heap
    const server = await startFaultServer({
      // The last request is answered with a byte order mark before a single JSON-RPC reply.
      fault: (n, calls) =>
        n === 4
          ? {
              kind: "status",
              status: 200,
              body: `\uFEFF${JSON.stringify({ jsonrpc: "2.0", id: calls[0]?.id, result: "ü" })}`,
            }
          : undefined,
      answer: (call) =>
        call.method === "web3_clientVersion"
          ? { result: "Géth/v1.14 ✓ 𝔼" }
          : call.method === "eth_big"
            ? { result: big }
            : { error: { code: -32602, message: "exécution annulée ✗" } },
    });
    const client = new RpcClient({ urls: [server.url], backoff: FAST, endpointCooldown: FAST });
    try {
      assert.equal(await client.call("web3_clientVersion", []), "Géth/v1.14 ✓ 𝔼");
      assert.equal(await client.call("eth_big", []), big);
      await assert.rejects(client.call("eth_other", []), /exécution annulée ✗/);
      assert.equal(await client.call("web3_clientVersion", []), "ü");
    } finally {
      await client.close();
      await server.close();
    }
  });
});
