import assert from "node:assert/strict";
import { test } from "node:test";
import { answerFrom, syntheticChain } from "../rpc/testing/chain.ts";
import { startFaultServer } from "../rpc/testing/fault-server.ts";
import { RpcPools } from "./rpc-pools.ts";

const FAST = { baseMs: 1, maxMs: 5 };
const blockNumbers = (n: number) => Array.from({ length: n }, (_, i) => i);

test("a pool's own limits (TRACE_RPC_POOL_<POOL>_*) bind its client; other pools keep the worker's options", async () => {
  const server = await startFaultServer({ answer: answerFrom(syntheticChain()), delayMs: 20 });
  const pools = new RpcPools(
    {
      TRACE_RPC_POOL_LIMITED_URL: server.url,
      TRACE_RPC_POOL_LIMITED_MAX_CONCURRENT_REQUESTS: "2",
      TRACE_RPC_POOL_LIMITED_BATCH_SIZE: "3",
      TRACE_RPC_POOL_OPEN_URL: server.url,
    },
    { batchSize: 100, maxConcurrentRequests: 50, backoff: FAST, endpointCooldown: FAST },
  );
  try {
    assert.equal((await pools.client("limited").getBlocks(blockNumbers(24), false)).length, 24);
    assert.deepEqual(
      server.log.map((calls) => calls.length),
      [3, 3, 3, 3, 3, 3, 3, 3],
      "batches of the pool's BATCH_SIZE",
    );
    assert.equal(
      server.maxInFlight,
      2,
      "never more than MAX_CONCURRENT_REQUESTS, and all of them used",
    );

    await pools.client("open").getBlocks(blockNumbers(24), false);
    assert.equal(
      server.log.at(-1)?.length,
      24,
      "the worker's batch size for a pool without limits",
    );
  } finally {
    await pools.close();
    await server.close();
  }
});

test("a pool's REQUESTS_PER_SECOND spaces its requests", async () => {
  // When the server answers each call; with a batch size of 1, each is one HTTP request.
  const arrivals: number[] = [];
  const answer = answerFrom(syntheticChain());
  const server = await startFaultServer({
    answer: (call) => {
      arrivals.push(performance.now());
      return answer(call);
    },
  });
  const pools = new RpcPools({
    TRACE_RPC_POOL_SLOW_URL: server.url,
    TRACE_RPC_POOL_SLOW_REQUESTS_PER_SECOND: "20",
    TRACE_RPC_POOL_SLOW_BATCH_SIZE: "1",
  });
  try {
    await pools.client("slow").getBlocks(blockNumbers(5), false);
    assert.equal(server.requests, 5);
    // The limiter starts five requests at 20/s, 50 ms apart (a lower bound set by the limiter,
    // not a speed assertion). Counted from the second arrival: the first request also opens the
    // connection, and one CI run saw it arrive at least 15 ms later than its start would say (four
    // intervals in 185 ms). Three intervals are 150 ms; 10 ms allow for timer rounding.
    const spread = (arrivals.at(-1) ?? 0) - (arrivals[1] ?? 0);
    assert.ok(spread >= 140, `requests 2–5 at 20/s arrived within ${spread.toFixed(0)} ms`);
  } finally {
    await pools.close();
    await server.close();
  }
});
