import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { describeError, FatalError } from "../core/errors.ts";
import { RpcClient } from "./client.ts";
import { InvalidResponseError } from "./errors.ts";
import { answerFrom, recordedChain, syntheticChain } from "./testing/chain.ts";
import { startFaultServer } from "./testing/fault-server.ts";
import type { RpcBlock } from "./types.ts";
import { validateBlock, validateBlockReceipts, validateLogs } from "./validate.ts";

const FAST = { baseMs: 1, maxMs: 5 };
const chain = recordedChain();
const N = 18_000_000;
// biome-ignore lint/suspicious/noExplicitAny: tests mutate raw JSON freely
type J = Record<string, any>;
const fresh = <T>(v: T): T => structuredClone(v);
const block = () => fresh(chain.block(N)!) as J;
const receipts = () => fresh(chain.receipts(N)!) as J[];

function rejects(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidResponseError, String(err));
    assert.match(err.message, message);
    return true;
  });
}

describe("block validation (real block 18,000,000)", () => {
  test("the real block passes, full and hashes-only", () => {
    validateBlock(block(), N, true);
    const b = block();
    b.transactions = b.transactions.map((t: J) => t.hash);
    validateBlock(b, N, false);
  });
  test("wrong block", () =>
    rejects(
      () => validateBlock(block(), N + 1, true),
      /block 18000001: wrong block returned \(number 18000000\)/,
    ));
  test("null block", () =>
    rejects(() => validateBlock(null, N, true), /block 18000000: node returned null/));
  test("missing field", () => {
    const b = block();
    delete b.hash;
    rejects(() => validateBlock(b, N, true), /block 18000000: missing field hash/);
  });
  test("bad hex", () => {
    const b = block();
    b.gasUsed = "0xzz";
    rejects(() => validateBlock(b, N, true), /block 18000000: malformed gasUsed "0xzz"/);
    const c = block();
    c.miner = "0x1234";
    rejects(() => validateBlock(c, N, true), /malformed miner/);
  });
  test("a transaction from another block or out of place", () => {
    const b = block();
    b.transactions[5].blockHash = `0x${"1".repeat(64)}`;
    rejects(() => validateBlock(b, N, true), /transaction 5: blockHash 0x1111.* does not match/);
    const c = block();
    c.transactions[3].transactionIndex = "0x4";
    rejects(
      () => validateBlock(c, N, true),
      /transaction 3: transactionIndex 0x4 is not its position 3/,
    );
    const d = block();
    d.transactions[0].input = "0x123";
    rejects(() => validateBlock(d, N, true), /transaction 0: malformed input/);
  });
});

describe("receipt validation (real receipts of block 18,000,000)", () => {
  const b = () => validateBlock(block(), N, true) as RpcBlock;
  test("the real receipts pass", () => {
    assert.equal(validateBlockReceipts(receipts(), b()).length, 94);
  });
  test("count must equal the transaction count", () => {
    rejects(
      () => validateBlockReceipts(receipts().slice(1), b()),
      /block 18000000: 93 receipts for 94 transactions/,
    );
  });
  test("receipt for the wrong block", () => {
    const r = receipts();
    r[10]!.blockHash = `0x${"2".repeat(64)}`;
    rejects(
      () => validateBlockReceipts(r, b()),
      /receipt 10: receipt for the wrong block \(blockHash 0x2222/,
    );
    const s = receipts();
    s[0]!.blockNumber = "0x112a881";
    rejects(
      () => validateBlockReceipts(s, b()),
      /receipt 0: receipt for the wrong block \(blockNumber 18000001\)/,
    );
  });
  test("receipts out of order or for other transactions", () => {
    const r = receipts();
    [r[1], r[2]] = [r[2]!, r[1]!];
    rejects(
      () => validateBlockReceipts(r, b()),
      /receipt 1: transactionHash .* does not match the block's transaction 1/,
    );
  });
  test("missing field and bad hex", () => {
    const r = receipts();
    delete r[4]!.gasUsed;
    rejects(() => validateBlockReceipts(r, b()), /receipt 4: missing field gasUsed/);
    const s = receipts();
    s[4]!.status = "1";
    rejects(() => validateBlockReceipts(s, b()), /receipt 4: malformed status "1"/);
  });
  test("a log of another block, or with a non-increasing logIndex", () => {
    const r = receipts();
    const withLogs = r.findIndex((x) => x.logs.length > 1);
    r[withLogs]!.logs[0].blockHash = `0x${"3".repeat(64)}`;
    rejects(() => validateBlockReceipts(r, b()), /log 0: log for the wrong block/);
    const s = receipts();
    s[withLogs]!.logs[1].logIndex = s[withLogs]!.logs[0].logIndex;
    rejects(() => validateBlockReceipts(s, b()), /log 1: logIndex \d+ does not increase/);
  });
});

describe("log validation", () => {
  const logs = () => receipts().flatMap((r) => r.logs);
  const filter = { fromBlock: N, toBlock: N };
  test("the real logs pass; filters are checked", () => {
    assert.equal(validateLogs(logs(), filter).length, 291);
    const transfer = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";
    const only = logs().filter((l) => l.topics[0] === transfer);
    validateLogs(only, { ...filter, topics: [transfer] });
    rejects(
      () => validateLogs(logs(), { ...filter, topics: [transfer] }),
      /topic0 .* does not match the filter/,
    );
    rejects(
      () => validateLogs(logs(), { ...filter, address: `0x${"9".repeat(40)}` }),
      /address .* does not match/,
    );
  });
  test("out of range, inconsistent hashes, known hashes, duplicates", () => {
    rejects(
      () => validateLogs(logs(), { fromBlock: N + 1, toBlock: N + 5 }),
      /block 18000000 is outside the requested range/,
    );
    const l = logs();
    l[7]!.blockHash = `0x${"4".repeat(64)}`;
    rejects(
      () => validateLogs(l, filter),
      /log 7 of blocks 18000000\.\.18000000: log for the wrong block/,
    );
    rejects(
      () => validateLogs(logs(), filter, () => `0x${"5".repeat(64)}`),
      /log 0 .*log for the wrong block/,
    );
    const d = logs();
    d[3]!.logIndex = d[2]!.logIndex;
    rejects(() => validateLogs(d, filter), /duplicate logIndex/);
    const r = logs();
    r[0]!.removed = true;
    rejects(() => validateLogs(r, filter), /marked removed/);
  });
});

describe("persistent garbage ends in a FatalError with a clear message", () => {
  async function run(
    tamper: (result: unknown, call: { method: string }) => unknown,
    only: (c: { method: string }) => boolean,
    fn: (c: RpcClient) => Promise<unknown>,
    source = chain,
  ) {
    const server = await startFaultServer({
      answer: answerFrom(source),
      fault: () => ({ kind: "tamper", fn: tamper, only }),
    });
    const client = new RpcClient({
      urls: [server.url],
      backoff: FAST,
      endpointCooldown: FAST,
      maxAttempts: 3,
    });
    try {
      return await fn(client).then(
        () => assert.fail("expected a FatalError"),
        (e: unknown) => {
          assert.ok(e instanceof FatalError, String(e));
          assert.equal(e.category, "rpc_invalid_response");
          return { message: describeError(e), requests: server.requests };
        },
      );
    } finally {
      await client.close();
      await server.close();
    }
  }

  test("a receipt for the wrong block", async () => {
    const { message } = await run(
      (rs) => (rs as J[]).map((r, i) => (i === 7 ? { ...r, blockHash: `0x${"6".repeat(64)}` } : r)),
      (c) => c.method === "eth_getBlockReceipts",
      async (c) => c.getBlockReceipts((await c.getBlocks([N], true))[0]!),
    );
    assert.match(
      message,
      /^persistent invalid response after 3 attempts: eth_getBlockReceipts\("0x112a880"\) via http:\/\/127\.0\.0\.1:\d+: block 18000000: receipt 7: receipt for the wrong block/,
    );
  });

  test("a receipt for the wrong block via getBlocksWithReceipts", async () => {
    const { message } = await run(
      (rs) => (rs as J[]).slice(0, -1),
      (c) => c.method === "eth_getBlockReceipts",
      (c) => c.getBlocksWithReceipts([N]),
    );
    assert.match(
      message,
      /persistent invalid response.*block 18000000: 93 receipts for 94 transactions/,
    );
  });

  test("the wrong block", async () => {
    const { message, requests } = await run(
      (b) => ({ ...(b as J), number: "0x2a" }),
      (c) => c.method === "eth_getBlockByNumber",
      (c) => c.getBlocks([40], false),
      syntheticChain(),
    );
    assert.equal(requests, 3);
    assert.match(
      message,
      /eth_getBlockByNumber\("0x28",false\).*block 40: wrong block returned \(number 42\)/,
    );
  });

  test("logs with a missing field", async () => {
    const { message } = await run(
      (ls) => (ls as J[]).map(({ data: _d, ...rest }) => rest),
      (c) => c.method === "eth_getLogs",
      (c) => c.getLogs({ fromBlock: N, toBlock: N }),
    );
    assert.match(message, /eth_getLogs.*blocks 18000000\.\.18000000: log 0: missing field data/);
  });
});
