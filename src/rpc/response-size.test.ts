import assert from "node:assert/strict";
import { test } from "node:test";
import { FatalError } from "../core/errors.ts";
import { RpcClient } from "./client.ts";
import type { FaultServer } from "./testing/fault-server.ts";
import { withFaultServer } from "./testing/harness.ts";
import type { RpcClientOptions } from "./types.ts";

const blockNumbers = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/**
 * A synthetic-chain server with two clients on it: one with `limited`'s options, and one
 * without a response limit (for the expected answers).
 */
async function withClients(
  limited: Partial<RpcClientOptions>,
  run: (server: FaultServer, unlimited: RpcClient, limited: RpcClient) => Promise<void>,
): Promise<void> {
  await withFaultServer({}, limited, async (client, server) => {
    const unlimited = new RpcClient({ urls: [server.url] });
    try {
      await run(server, unlimited, client);
    } finally {
      await unlimited.close();
    }
  });
}

test("a batch answer over maxResponseBytes is fetched again in halves, not counted against the endpoint", async () => {
  // One block is ~0.5 KB: a batch of 16 is too large, batches of 2 fit.
  await withClients(
    { batchSize: 16, maxResponseBytes: 1500 },
    async (server, unlimited, limited) => {
      const expected = await unlimited.getBlocks(blockNumbers(1, 16), false);
      const before = server.log.length;
      assert.deepEqual(await limited.getBlocks(blockNumbers(1, 16), false), expected);
      const sizes = server.log.slice(before).map((calls) => calls.length);
      assert.equal(sizes[0], 16, "the whole batch was tried first");
      assert.ok(sizes.includes(8) && sizes.includes(4), `halved step by step: ${sizes}`);
      assert.ok(Math.min(...sizes) >= 2, `no smaller than needed: ${sizes}`);
      const stats = limited.stats();
      assert.equal(stats.failures, 0);
      assert.equal(Object.values(stats.byEndpoint)[0]?.failures, 0);

      // Batched eth_getLogs calls are halved the same way.
      const filters = blockNumbers(1, 8).map((n) => ({ fromBlock: n, toBlock: n }));
      assert.deepEqual(await limited.getLogsMany(filters), await unlimited.getLogsMany(filters));
    },
  );
});

test("an eth_getLogs range whose answer is over maxResponseBytes is split until it fits", async () => {
  await withClients({ maxResponseBytes: 1500 }, async (server, unlimited, limited) => {
    const filter = { fromBlock: 1, toBlock: 8 };
    const expected = await unlimited.getLogs(filter);
    assert.ok(JSON.stringify(expected).length > 3000, "the whole range does not fit");
    const before = server.log.length;
    assert.deepEqual(await limited.getLogs(filter), expected);
    const ranges = server.log
      .slice(before)
      .map((calls) => calls[0]?.params[0] as { fromBlock: string; toBlock: string });
    assert.deepEqual(ranges[0], { fromBlock: "0x1", toBlock: "0x8" });
    assert.ok(ranges.length >= 5, `split into smaller ranges: ${JSON.stringify(ranges)}`);
  });
});

test("an endless answer to a single call is cut off at maxResponseBytes and fails at once, fatally", async () => {
  const endless = { fault: () => ({ kind: "endless" }) as const };
  const opts = { maxResponseBytes: 64 * 1024, maxAttempts: 2 };
  await withFaultServer(endless, opts, async (client, server) => {
    await assert.rejects(client.blockNumber(), (err: Error) => {
      // Asking again would get the same answer: no retries, and the knobs are named.
      assert.ok(err instanceof FatalError, String(err));
      assert.equal(err.category, "rpc_response_too_large");
      assert.match(err.message, /response larger than 65536 bytes \(maxResponseBytes; /);
      assert.match(err.message, /--max-response-bytes, TRACE_RPC_POOL_<POOL>_MAX_RESPONSE_BYTES/);
      return true;
    });
    assert.equal(server.requests, 1);
    assert.equal(Object.values(client.stats().byEndpoint)[0]?.failures, 0);
  });
});

test("in a pool, an endpoint with an endless answer is passed over: the others are asked once", async () => {
  await withFaultServer({ fault: () => ({ kind: "endless" }) }, {}, async (_client, endless) => {
    await withFaultServer({}, {}, async (_other, good) => {
      const pool = new RpcClient({
        urls: [endless.url, good.url],
        maxResponseBytes: 64 * 1024,
        maxAttempts: 1,
      });
      try {
        assert.equal(await pool.blockNumber(), 10_000);
        assert.equal(endless.requests, 1);
        assert.equal(good.requests, 1);
      } finally {
        await pool.close();
      }
    });
  });
});
