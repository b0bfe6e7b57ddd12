/**
 * The client against the project's own test servers: the synthetic devnet with seeded fault
 * injection, and the replay server over real mainnet recordings.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startReplayServer } from "../../test/support/replay-server.ts";
import { FatalError } from "../core/errors.ts";
import { type Devnet, startDevnet } from "../devnet/server.ts";
import { RpcClient } from "./client.ts";

const FAST = { baseMs: 1, maxMs: 20 };
const CHAIN = { seed: 7, length: 3_000, txsPerBlock: 20, logsPerBlock: 40 };
const RANGE = Array.from({ length: 300 }, (_, i) => 1_000 + i);

describe("against the devnet", () => {
  let devnet: Devnet;
  before(async () => {
    devnet = await startDevnet({ chain: CHAIN, maxLogsBlockRange: 50 });
  });
  after(async () => {
    await devnet.stop();
  });

  async function fetchAll(client: RpcClient) {
    const withReceipts = await client.getBlocksWithReceipts(RANGE);
    const logs = await client.getLogs({ fromBlock: RANGE[0]!, toBlock: RANGE[0]! + 49 });
    return { withReceipts, logs };
  }

  test("10% faults of every kind: results identical to a fault-free run", async () => {
    devnet.setFaults(undefined);
    const clean = new RpcClient({
      urls: [devnet.url],
      batchSize: 20,
      backoff: FAST,
      endpointCooldown: FAST,
    });
    const expected = await fetchAll(clean);
    await clean.close();
    assert.equal(expected.withReceipts.length, 300);
    assert.ok(expected.logs.length > 0);

    // The devnet renders blocks on this process's event loop, so the timeout leaves it headroom.
    devnet.setFaults({ rate: 0.1, seed: 42, hangMs: 5_000, retryAfterSeconds: 0 });
    const client = new RpcClient({
      urls: [devnet.url],
      batchSize: 20,
      maxConcurrentRequests: 8,
      requestTimeoutMs: 3_000,
      maxAttempts: 12,
      backoff: FAST,
      endpointCooldown: FAST,
    });
    try {
      const got = await fetchAll(client);
      assert.deepEqual(got, expected);
      const injected = devnet.stats().faultsInjected;
      assert.ok(injected > 0, "faults were injected");
      assert.ok(client.stats().retries >= 1);
    } finally {
      devnet.setFaults(undefined);
      await client.close();
    }
  });

  test("a getLogs range over the node's limit is split until it fits", async () => {
    const client = new RpcClient({ urls: [devnet.url], backoff: FAST, endpointCooldown: FAST });
    try {
      const logs = await client.getLogs({ fromBlock: 0, toBlock: 199 });
      const perBlock = await Promise.all(
        Array.from({ length: 4 }, (_, k) =>
          client.getLogs({ fromBlock: k * 50, toBlock: k * 50 + 49 }),
        ),
      );
      assert.deepEqual(logs, perBlock.flat());
      assert.equal(client.stats().retries, 0, "splitting is not retrying");
    } finally {
      await client.close();
    }
  });

  test("getLogsMany: one list per filter, as getLogs gives them, in batched requests", async () => {
    const client = new RpcClient({ urls: [devnet.url], backoff: FAST, endpointCooldown: FAST });
    try {
      const filters = Array.from({ length: 25 }, (_, k) => ({
        fromBlock: 2_000 + k,
        toBlock: 2_000 + k,
      }));
      const many = await client.getLogsMany(filters);
      // Heavy batch size 10 (the default): 25 single-block calls in 3 HTTP requests.
      assert.equal(client.stats().requests, 3);
      const one = await Promise.all(filters.map((f) => client.getLogs(f)));
      assert.deepEqual(many, one);
      assert.ok(many.every((logs) => logs.length > 0));
    } finally {
      await client.close();
    }
  });

  test("getLogsMany: a range over the node's limit falls back to getLogs, which splits it", async () => {
    const client = new RpcClient({ urls: [devnet.url], backoff: FAST, endpointCooldown: FAST });
    try {
      const filters = [
        { fromBlock: 300, toBlock: 309 },
        { fromBlock: 310, toBlock: 459 }, // 150 blocks; the devnet refuses more than 50
      ];
      const many = await client.getLogsMany(filters);
      assert.deepEqual(many, [
        await client.getLogs(filters[0]!),
        await client.getLogs(filters[1]!),
      ]);
      assert.equal(client.stats().retries, 0, "splitting is not retrying");
    } finally {
      await client.close();
    }
  });

  test("persistent receipts for the wrong block fail closed", async () => {
    devnet.setCorrupt({ receiptsBlockHashFor: [1_005] });
    const client = new RpcClient({
      urls: [devnet.url],
      maxAttempts: 3,
      backoff: FAST,
      endpointCooldown: FAST,
    });
    try {
      await assert.rejects(client.getBlocksWithReceipts([1_004, 1_005]), (err: unknown) => {
        assert.ok(err instanceof FatalError);
        assert.match(err.message, /persistent invalid response after 3 attempts/);
        assert.match(err.message, /block 1005: receipt 0: receipt for the wrong block/);
        return true;
      });
    } finally {
      devnet.setCorrupt(undefined);
      await client.close();
    }
  });
});

test("devnet without eth_getBlockReceipts: per-transaction fallback gives the same receipts", async () => {
  const modern = await startDevnet({ chain: CHAIN });
  const old = await startDevnet({ chain: CHAIN, disableBlockReceipts: true });
  const a = new RpcClient({ urls: [modern.url], backoff: FAST });
  const b = new RpcClient({ urls: [old.url], backoff: FAST });
  try {
    const numbers = [10, 11, 12, 13];
    assert.deepEqual(
      await b.getBlocksWithReceipts(numbers),
      await a.getBlocksWithReceipts(numbers),
    );
    assert.equal(b.stats().receiptFallbacks, 4);
    assert.equal(a.stats().receiptFallbacks, 0);
  } finally {
    await a.close();
    await b.close();
    await modern.stop();
    await old.stop();
  }
});

test("replay server: block 18,000,000 complete (94 receipts, 291 logs, 16 withdrawals)", async () => {
  const replay = await startReplayServer();
  const client = new RpcClient({ urls: [replay.url], backoff: FAST, maxAttempts: 2 });
  try {
    assert.equal(await client.chainId(), 1);
    const [{ block, receipts }] = (await client.getBlocksWithReceipts([18_000_000])) as [
      Awaited<ReturnType<RpcClient["getBlocksWithReceipts"]>>[number],
    ];
    assert.equal(block.transactions.length, 94);
    assert.equal(block.withdrawals?.length, 16);
    assert.equal(receipts.length, 94);
    const logs = await client.getLogs({ fromBlock: 18_000_000, toBlock: 18_000_000 });
    assert.equal(logs.length, 291);
    assert.deepEqual(
      logs,
      receipts.flatMap((r) => r.logs),
    );
  } finally {
    await client.close();
    await replay.stop();
  }
});
