import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { describeError, FatalError, RetryableError } from "../core/errors.ts";
import { RpcClient } from "./client.ts";
import { answerFrom, recordedChain, syntheticChain } from "./testing/chain.ts";
import { startFaultServer } from "./testing/fault-server.ts";

const FAST = { baseMs: 1, maxMs: 5 };

describe("endpoint pool", () => {
  test("a failing endpoint is backed off and traffic moves to the others", async () => {
    const chain = syntheticChain();
    const bad = await startFaultServer({
      answer: answerFrom(chain),
      fault: () => ({ kind: "status", status: 503 }),
    });
    const good = await startFaultServer({ answer: answerFrom(chain) });
    const client = new RpcClient({
      urls: [bad.url, good.url],
      batchSize: 1,
      maxConcurrentRequests: 1,
      backoff: FAST,
      endpointCooldown: { baseMs: 60_000, maxMs: 60_000 }, // once backed off, it stays off here
    });
    try {
      const blocks = await client.getBlocks(
        Array.from({ length: 20 }, (_, i) => i),
        false,
      );
      assert.equal(blocks.length, 20);
      assert.equal(bad.requests, 1, "the bad endpoint is tried once, then avoided");
      assert.equal(good.requests, 20); // 19 first tries + the retry of the one that hit the bad endpoint
      const stats = client.stats();
      const badStats = Object.values(stats.byEndpoint).find((e) => e.failures > 0)!;
      assert.equal(badStats.backedOff, true);
      assert.equal(stats.retries, 1);
    } finally {
      await client.close();
      await bad.close();
      await good.close();
    }
  });

  test("an endpoint answering with an HTML page is left out of the pool at once, without a retry", async () => {
    const chain = syntheticChain();
    const website = await startFaultServer({
      answer: answerFrom(chain),
      fault: () => ({ kind: "status", status: 200, body: "<!DOCTYPE html><html></html>" }),
    });
    const good = await startFaultServer({ answer: answerFrom(chain) });
    const client = new RpcClient({
      urls: [website.url, good.url],
      batchSize: 1,
      maxConcurrentRequests: 1,
      maxAttempts: 1, // no retry is needed: the call moves on to the other endpoint
      backoff: FAST,
      endpointCooldown: FAST,
    });
    try {
      assert.equal((await client.getBlocks([1, 2, 3, 4, 5, 6], false)).length, 6);
      assert.equal(website.requests, 1, "asked once, then left out");
      assert.equal(good.requests, 6);
      assert.equal(client.stats().retries, 0);
    } finally {
      await client.close();
      await website.close();
      await good.close();
    }
  });

  test("healthy endpoints share the load round-robin", async () => {
    const chain = syntheticChain();
    const a = await startFaultServer({ answer: answerFrom(chain) });
    const b = await startFaultServer({ answer: answerFrom(chain) });
    const client = new RpcClient({
      urls: [a.url, b.url],
      batchSize: 1,
      backoff: FAST,
      endpointCooldown: FAST,
    });
    try {
      await client.getBlocks([1, 2, 3, 4, 5, 6], false);
      assert.equal(a.requests, 3);
      assert.equal(b.requests, 3);
    } finally {
      await client.close();
      await a.close();
      await b.close();
    }
  });

  test("429 Retry-After is honoured even when it is longer than the endpoint cooldown", async () => {
    const chain = syntheticChain();
    const limited = await startFaultServer({
      answer: answerFrom(chain),
      fault: (n) => (n === 1 ? { kind: "status", status: 429, retryAfter: "3600" } : undefined),
    });
    const other = await startFaultServer({ answer: answerFrom(chain) });
    const client = new RpcClient({
      urls: [limited.url, other.url],
      batchSize: 1,
      maxConcurrentRequests: 1,
      backoff: FAST,
      endpointCooldown: FAST, // would reopen after ms; Retry-After says an hour
    });
    try {
      await client.getBlocks([1, 2, 3, 4, 5, 6, 7, 8], false);
      assert.equal(limited.requests, 1);
      assert.equal(other.requests, 8);
      const st = client.stats().byEndpoint;
      assert.deepEqual(
        Object.values(st).map((e) => e.backedOff),
        [true, false],
      );
    } finally {
      await client.close();
      await limited.close();
      await other.close();
    }
  });
});

describe("receipts fallback", () => {
  test("without eth_getBlockReceipts, receipts come per transaction and are validated", async () => {
    const server = await startFaultServer({
      answer: answerFrom(recordedChain(), { noBlockReceipts: true }),
    });
    const client = new RpcClient({ urls: [server.url], backoff: FAST, endpointCooldown: FAST });
    try {
      const [block] = await client.getBlocks([18_000_000], true);
      const receipts = await client.getBlockReceipts(block!);
      assert.equal(receipts.length, 94);
      assert.equal(
        receipts.reduce((s, r) => s + r.logs.length, 0),
        291,
      );
      const before = server.log.length;
      // Remembered: the next block goes straight to the fallback, no eth_getBlockReceipts probe.
      await client.getBlocksWithReceipts([18_000_000]);
      const methods = server.log.slice(before).flatMap((calls) => calls.map((c) => c.method));
      assert.ok(!methods.includes("eth_getBlockReceipts"));
      assert.equal(methods.filter((m) => m === "eth_getTransactionReceipt").length, 94);
      const stats = client.stats();
      assert.equal(stats.receiptFallbacks, 2);
      assert.deepEqual(Object.values(stats.byEndpoint)[0]!.unsupported, ["eth_getBlockReceipts"]);
    } finally {
      await client.close();
      await server.close();
    }
  });

  test("unsupported on one endpoint only: the others serve eth_getBlockReceipts", async () => {
    const chain = syntheticChain();
    const old = await startFaultServer({ answer: answerFrom(chain, { noBlockReceipts: true }) });
    const modern = await startFaultServer({ answer: answerFrom(chain) });
    const client = new RpcClient({
      urls: [old.url, modern.url],
      batchSize: 1,
      maxConcurrentRequests: 1,
      backoff: FAST,
      endpointCooldown: FAST,
    });
    try {
      const results = await client.getBlocksWithReceipts([1, 2, 3, 5, 6, 7]);
      assert.deepEqual(
        results.map((r) => r.receipts.length),
        [1, 2, 3, 1, 2, 3],
      );
      assert.equal(client.stats().receiptFallbacks, 0);
      const oldMethods = old.log.flatMap((calls) => calls.map((c) => c.method));
      assert.equal(
        oldMethods.filter((m) => m === "eth_getBlockReceipts").length,
        1,
        "asked once, then remembered",
      );
    } finally {
      await client.close();
      await old.close();
      await modern.close();
    }
  });
});

describe("URL credentials never appear in errors or stats", () => {
  const secretUrl = (base: string) => {
    const u = new URL(base);
    u.username = "alice";
    u.password = "s3cretPass";
    u.pathname = "/v2/KEY0123456789abcdef";
    u.search = "?apikey=TOKENxyz";
    return u.toString();
  };
  const secrets = /alice|s3cretPass|KEY0123456789abcdef|TOKENxyz|apikey/;

  test("credentials are sent (Basic auth, path and query kept) but never shown", async () => {
    const faults = [
      { kind: "status", status: 500 } as const,
      { kind: "rpcError", code: -32602, message: "invalid argument" } as const,
      { kind: "truncate" } as const,
      { kind: "tamper", fn: () => ({ number: "0x99" }) } as const,
    ];
    for (const fault of faults) {
      const server = await startFaultServer({
        answer: answerFrom(syntheticChain()),
        fault: () => fault,
      });
      const client = new RpcClient({
        urls: [secretUrl(server.url)],
        backoff: FAST,
        endpointCooldown: FAST,
        maxAttempts: 2,
      });
      try {
        const err = await client.getBlocks([3], false).then(
          () => assert.fail("expected an error"),
          (e: unknown) => e,
        );
        assert.ok(err instanceof RetryableError || err instanceof FatalError);
        const text = `${describeError(err)} ${String((err as Error).stack)} ${JSON.stringify(client.stats())}`;
        assert.doesNotMatch(text, secrets, text);
        assert.match(describeError(err), /127\.0\.0\.1/);
        assert.equal(
          server.lastAuthorization,
          `Basic ${Buffer.from("alice:s3cretPass").toString("base64")}`,
        );
        assert.equal(server.lastPath, "/v2/KEY0123456789abcdef?apikey=TOKENxyz");
      } finally {
        await client.close();
        await server.close();
      }
    }
  });

  test("connection errors and config errors are redacted too", async () => {
    const client = new RpcClient({
      urls: [secretUrl("http://127.0.0.1:9/")],
      backoff: FAST,
      endpointCooldown: FAST,
      maxAttempts: 1,
    });
    try {
      const err = await client.blockNumber().then(
        () => assert.fail("expected an error"),
        (e: unknown) => e,
      );
      assert.doesNotMatch(`${describeError(err)} ${String((err as Error).stack)}`, secrets);
    } finally {
      await client.close();
    }
    assert.throws(
      () => new RpcClient({ urls: ["ftp://alice:s3cretPass@127.0.0.1/?apikey=TOKENxyz"] }),
      (e: unknown) =>
        e instanceof FatalError && !secrets.test(e.message) && /http\(s\)/.test(e.message),
    );
  });
});
