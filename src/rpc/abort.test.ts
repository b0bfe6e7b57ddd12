/**
 * A caller's abort (an extraction whose task lost its lease) ends its RPC calls wherever they
 * are — in flight, or queued for a concurrency slot — without touching other callers' calls.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as wait } from "node:timers/promises";
import { errorCategory } from "../core/errors.ts";
import { startDevnet } from "../devnet/server.ts";
import { startStallProxy } from "../worker/testing/stall-proxy.ts";
import { RpcClient } from "./client.ts";
import { parseHexQuantity } from "./hex.ts";

test("an aborted caller's calls stop in flight and in the slot queue; others go on", async () => {
  const devnet = await startDevnet({ chain: { seed: 3, length: 100 } });
  const proxy = await startStallProxy(devnet.url);
  // One slot, and a timeout far beyond the test's: only the abort can end a stalled call.
  const rpc = new RpcClient({
    urls: [proxy.url],
    maxConcurrentRequests: 1,
    requestTimeoutMs: 600_000,
  });
  try {
    proxy.stall();
    const ac = new AbortController();
    const inFlight = rpc.getBlocks([1], false, { signal: ac.signal });
    const queued = rpc.getLogs({ fromBlock: 2, toBlock: 2 }, { signal: ac.signal });
    const other = rpc.getBlocks([3], false); // another caller, queued behind both
    await wait(200); // the first request reaches the (stalled) proxy
    ac.abort(new Error("lease lost"));
    const aborted = (err: unknown) => errorCategory(err) === "aborted";
    await assert.rejects(inFlight, aborted);
    await assert.rejects(queued, aborted);
    // The aborted calls gave their slot back: the other caller's call runs once the node answers.
    proxy.release();
    const [block] = await other;
    assert.equal(parseHexQuantity((block as { number: string }).number), 3);
    // A call started with an already aborted signal never goes out.
    const before = proxy.forwarded;
    await assert.rejects(rpc.getBlocks([4], false, { signal: ac.signal }), aborted);
    assert.equal(proxy.forwarded, before);
    const stats = rpc.stats();
    assert.equal(stats.byEndpoint[Object.keys(stats.byEndpoint)[0] as string]?.failures, 0);
  } finally {
    proxy.release();
    await rpc.close();
    await proxy.close();
    await devnet.stop();
  }
});
