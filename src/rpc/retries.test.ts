import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FatalError, RetryableError } from "../core/errors.ts";
import { RpcClient } from "./client.ts";
import { parseHexQuantity } from "./hex.ts";
import { syntheticChain } from "./testing/chain.ts";
import type { Fault } from "./testing/fault-server.ts";
import { FAST, withFaultServer } from "./testing/harness.ts";

/** Fail the first `times` requests with `fault`, then answer normally. */
const firstN = (times: number, fault: Fault) => (n: number) => (n <= times ? fault : undefined);

const retryable: [string, Fault][] = [
  ["HTTP 429", { kind: "status", status: 429 }],
  ["HTTP 429 with Retry-After", { kind: "status", status: 429, retryAfter: "0" }],
  ["HTTP 500", { kind: "status", status: 500 }],
  ["HTTP 503", { kind: "status", status: 503 }],
  ["a dropped connection", { kind: "drop" }],
  ["truncated JSON", { kind: "truncate" }],
  [
    "JSON-RPC limit exceeded (-32005)",
    { kind: "rpcError", code: -32005, message: "limit exceeded" },
  ],
  [
    "JSON-RPC rate limit text",
    { kind: "rpcError", code: -32000, message: "rate limit reached, slow down" },
  ],
  ["JSON-RPC header not found", { kind: "rpcError", code: -32000, message: "header not found" }],
  ["a batch item missing", { kind: "omit", only: (c) => c.params[0] === "0x65" }],
  [
    "a wrong block",
    {
      kind: "tamper",
      fn: (b) => ({ ...(b as object), number: "0x1" }),
      only: (c) => c.params[0] === "0x65",
    },
  ],
];

describe("retryable faults are retried and the result is correct", () => {
  for (const [name, fault] of retryable) {
    test(name, async () => {
      await withFaultServer({ fault: firstN(2, fault) }, {}, async (client, server) => {
        const numbers = [100, 101, 102];
        const blocks = await client.getBlocks(numbers, true);
        assert.deepEqual(
          blocks.map((b) => parseHexQuantity(b.number)),
          numbers,
        );
        assert.equal(blocks[1]!.hash, syntheticChain().block(101)!.hash);
        assert.equal(server.requests, 3);
        assert.equal(client.stats().retries, 2);
      });
    });
  }

  test("a request timeout", async () => {
    await withFaultServer(
      { fault: firstN(1, { kind: "hang" }) },
      { requestTimeoutMs: 300 },
      async (client, server) => {
        const [b] = await client.getBlocks([7], false);
        assert.equal(b!.number, "0x7");
        assert.equal(server.requests, 2);
      },
    );
  });

  test("only the failed items of a batch are resent", async () => {
    await withFaultServer(
      { fault: firstN(1, { kind: "omit", only: (c) => c.params[0] === "0x2" }) },
      {},
      async (client, server) => {
        await client.getBlocks([1, 2, 3], false);
        assert.deepEqual(
          server.log.map((calls) => calls.map((c) => c.params[0])),
          [["0x1", "0x2", "0x3"], ["0x2"]],
        );
      },
    );
  });

  test("a connection refused endpoint is retried then gives up with RetryableError", async () => {
    const client = new RpcClient({
      urls: ["http://127.0.0.1:9/"],
      backoff: FAST,
      endpointCooldown: FAST,
      maxAttempts: 3,
    });
    try {
      await assert.rejects(client.blockNumber(), (err: unknown) => {
        assert.ok(err instanceof RetryableError, String(err));
        assert.match(err.message, /eth_blockNumber/);
        assert.match(err.message, /gave up after 3 attempts/);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});

describe("bounded attempts", () => {
  test("a fault that persists ends in RetryableError after maxAttempts", async () => {
    await withFaultServer(
      { fault: () => ({ kind: "status", status: 502 }) },
      { maxAttempts: 4 },
      async (client, server) => {
        await assert.rejects(client.getBlocks([5], false), (err: unknown) => {
          assert.ok(err instanceof RetryableError);
          assert.match(
            err.message,
            /eth_getBlockByNumber\("0x5",false\).*HTTP 502.*gave up after 4 attempts/,
          );
          return true;
        });
        assert.equal(server.requests, 4);
      },
    );
  });
});

describe("fatal errors are not retried", () => {
  const fatal: [string, Fault, RegExp][] = [
    [
      "method not found",
      { kind: "rpcError", code: -32601, message: "the method does not exist" },
      /method not supported/,
    ],
    [
      "invalid params",
      { kind: "rpcError", code: -32602, message: "invalid argument 0" },
      /-32602: invalid argument 0/,
    ],
    ["HTTP 401", { kind: "status", status: 401 }, /HTTP 401/],
    [
      "an HTML page with HTTP 200 (a website, not the node's JSON-RPC URL)",
      { kind: "status", status: 200, body: "\n<!DOCTYPE html><html><body>Welcome</body></html>" },
      /answered with an HTML page \(HTTP 200\), not JSON-RPC: is the URL the node's JSON-RPC endpoint\?/,
    ],
  ];
  for (const [name, fault, message] of fatal) {
    test(name, async () => {
      await withFaultServer({ fault: () => fault }, {}, async (client, server) => {
        await assert.rejects(
          client.call("eth_getBlockByNumber", ["0x5", false]),
          (err: unknown) => {
            assert.ok(err instanceof FatalError, String(err));
            assert.match(err.message, message);
            assert.match(err.message, /eth_getBlockByNumber/);
            return true;
          },
        );
        assert.equal(server.requests, 1);
      });
    });
  }
});
