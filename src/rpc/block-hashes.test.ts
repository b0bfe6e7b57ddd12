import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BlockHashes } from "./block-hashes.ts";
import { FAST, withFaultServer } from "./testing/harness.ts";

const hash = (byte: number) => `0x${byte.toString(16).padStart(2, "0").repeat(32)}`;

describe("BlockHashes", () => {
  test("gives back what was set, in lowercase; unknown blocks are undefined", () => {
    const known = new BlockHashes(8);
    assert.equal(known.get(5), undefined, "nothing set yet");
    known.set(5, hash(0xab).toUpperCase().replace("0X", "0x"));
    known.set(2 ** 40, hash(0x01));
    assert.equal(known.get(5), hash(0xab));
    assert.equal(known.get(2 ** 40), hash(0x01));
    assert.equal(known.get(6), undefined);
    assert.equal(known.get(5 + 8), undefined, "same slot, another block");
    known.set(5, hash(0xcd));
    assert.equal(known.get(5), hash(0xcd), "a block fetched again keeps its latest hash");
  });

  test("any `capacity` consecutive blocks are all kept; a block evicts its slot's older block", () => {
    const known = new BlockHashes(100);
    for (let n = 1_000; n < 1_250; n++) known.set(n, hash(n % 256));
    for (let n = 1_150; n < 1_250; n++) assert.equal(known.get(n), hash(n % 256), `block ${n}`);
    for (let n = 1_000; n < 1_150; n++) assert.equal(known.get(n), undefined, `block ${n}`);
  });

  test("a hash that is not 64 hex digits is not remembered (and forgets its slot)", () => {
    const known = new BlockHashes(4);
    known.set(1, hash(0x11));
    for (const bad of ["0x1234", `0x${"zz".repeat(32)}`, `0x${"\u0130".repeat(64)}`]) {
      known.set(1, bad);
      assert.equal(known.get(1), undefined, bad);
      known.set(1, hash(0x11));
    }
  });

  test("a capacity must be a positive integer", () => {
    for (const c of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new BlockHashes(c), /block hash capacity must be a positive integer/);
    }
  });
});

describe("RpcClient: logs are checked against the hashes of blocks it fetched", () => {
  const other = hash(0xee);
  /** Every log of every eth_getLogs answer claims the block hash `other`, consistently. */
  const fault = () =>
    ({
      kind: "tamper",
      fn: (logs: unknown) =>
        (logs as Record<string, unknown>[]).map((l) => ({ ...l, blockHash: other })),
      only: (c: { method: string }) => c.method === "eth_getLogs",
    }) as const;

  test("a log naming another hash than its fetched block fails closed, on both paths", async () => {
    await withFaultServer({ fault }, { maxAttempts: 2, backoff: FAST }, async (client) => {
      const [header] = await client.getBlockHeaders([211]);
      assert.ok(header);
      const wrong = `log for the wrong block (blockHash ${other}, block is ${header.hash})`;
      await assert.rejects(client.getLogsColumnar([{ fromBlock: 211, toBlock: 211 }]), (err) => {
        assert.ok((err as Error).message.includes(wrong), (err as Error).message);
        return true;
      });
      await assert.rejects(client.getLogs({ fromBlock: 211, toBlock: 211 }), (err) => {
        assert.ok((err as Error).message.includes(wrong), (err as Error).message);
        return true;
      });
      // Blocks this client never fetched have no hash to check against.
      const unfetched = await client.getLogsColumnar([{ fromBlock: 212, toBlock: 230 }]);
      assert.ok((unfetched[0]?.count ?? 0) > 0);
    });
  });
});
