import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidResponseError } from "./errors.ts";
import {
  checkReceiptColumns,
  type DecodedReceiptsItem,
  decodeReceiptsResponse,
  type ReceiptColumns,
} from "./receipts-decode.ts";
import { recordedChain } from "./testing/chain.ts";
import { withFaultServer } from "./testing/harness.ts";
import { decodedEdits } from "./testing/random-edits.ts";
import type { RpcBlock, RpcReceipt } from "./types.ts";
import { validateBlock, validateBlockReceipts } from "./validate.ts";

const N = 18_000_000;
const chain = recordedChain();
// biome-ignore lint/suspicious/noExplicitAny: tests build raw JSON freely
type J = Record<string, any>;
const block = validateBlock(structuredClone(chain.block(N)), N, true) as RpcBlock;
/** The real receipts of block 18,000,000 (94 transactions, 291 logs). */
const realReceipts = (): J[] => structuredClone(chain.receipts(N)!) as J[];
const answer = (result: unknown, id = 1) => ({ jsonrpc: "2.0", id, result });
const bytes = (value: unknown, indent?: number) => Buffer.from(JSON.stringify(value, null, indent));

function items(decoded: ReturnType<typeof decodeReceiptsResponse>): DecodedReceiptsItem[] {
  assert.ok(decoded, "decoded");
  return Array.isArray(decoded) ? decoded : [decoded];
}

/** Columns and validated JSON receipts say the same of every receipt. */
function assertSame(cols: ReceiptColumns, receipts: RpcReceipt[]): void {
  assert.equal(cols.count, receipts.length);
  receipts.forEach((r, i) => {
    assert.equal(cols.gasUsed[i], Number.parseInt(r.gasUsed, 16), `gasUsed ${i}`);
    const status = (r as J).status as string | undefined;
    assert.equal(cols.status[i], status === undefined ? -1 : Number.parseInt(status, 16));
    assert.equal(cols.hex("transactionHash", i), r.transactionHash.toLowerCase());
    assert.equal(cols.hex("blockHash", i), r.blockHash.toLowerCase());
    assert.equal(cols.blockNumber[i], Number.parseInt(r.blockNumber, 16));
  });
}

describe("eth_getBlockReceipts answers decoded from bytes (receipts-decode)", () => {
  test("the real receipts of block 18,000,000: the same values as JSON.parse + validation", () => {
    const receipts = realReceipts();
    const [item] = items(decodeReceiptsResponse(bytes(answer(receipts))));
    const cols = checkReceiptColumns(item!.result, block);
    assertSame(cols, validateBlockReceipts(receipts, block));
    assert.equal([...cols.status.subarray(0, cols.count)].filter((s) => s === 0).length, 2);
    // Pretty-printed, keys reversed, in a batch: the same.
    const reversed = receipts.map((r) => Object.fromEntries(Object.entries(r).reverse()));
    const batch = items(decodeReceiptsResponse(bytes([answer(reversed, 4), answer([], 5)], 2)));
    assertSame(
      checkReceiptColumns(batch[0]!.result, block),
      validateBlockReceipts(receipts, block),
    );
    assert.equal(batch[1]!.result.count, 0);
  });

  test("a pre-Byzantium receipt (state root, no status) and contract creations decode", () => {
    const receipts = realReceipts();
    const { status: _s, ...first } = receipts[0]!;
    receipts[0] = { ...first, root: `0x${"12".repeat(32)}` };
    receipts[1] = { ...receipts[1], to: null, contractAddress: `0x${"ab".repeat(20)}` };
    receipts[2] = { ...receipts[2], contractAddress: null };
    const [item] = items(decodeReceiptsResponse(bytes(answer(receipts))));
    assert.equal(item!.result.status[0], -1);
    assertSame(checkReceiptColumns(item!.result, block), validateBlockReceipts(receipts, block));
  });

  test("anything outside the usual form or inconsistent within itself is left to JSON (undefined)", () => {
    const rs = realReceipts();
    const withLogs = rs.findIndex((r) => r.logs.length > 1);
    const edit = (i: number, change: (r: J) => J) => rs.map((r, k) => (k === i ? change(r) : r));
    const cases: [string, unknown][] = [
      ["a null result", null],
      ["a null receipt", edit(3, () => null as unknown as J)],
      ["a missing field", edit(3, ({ gasUsed: _g, ...r }) => r)],
      ["neither status nor root", edit(3, ({ status: _s, ...r }) => r)],
      ["a null status", edit(3, (r) => ({ ...r, status: null }))],
      ["gasUsed of 14 digits", edit(3, (r) => ({ ...r, gasUsed: "0x00000000000001" }))],
      ["a transactionIndex out of place", edit(3, (r) => ({ ...r, transactionIndex: "0x4" }))],
      [
        "a log of another transaction",
        edit(withLogs, (r) => ({
          ...r,
          logs: r.logs.map((l: J, j: number) => (j === 1 ? { ...l, transactionIndex: "0x0" } : l)),
        })),
      ],
      [
        "a log of another block hash",
        edit(withLogs, (r) => ({
          ...r,
          logs: r.logs.map((l: J) => ({ ...l, blockHash: `0x${"ee".repeat(32)}` })),
        })),
      ],
      [
        "log indices not increasing",
        edit(withLogs, (r) => ({ ...r, logs: [...r.logs].reverse() })),
      ],
    ];
    for (const [what, result] of cases) {
      assert.equal(decodeReceiptsResponse(bytes(answer(result))), undefined, what);
    }
    // A receipt of a duplicated key, written by hand (JSON.stringify cannot make one).
    const text = JSON.stringify(answer(rs)).replace('"gasUsed":', '"gasUsed":"0x1","gasUsed":');
    assert.equal(decodeReceiptsResponse(Buffer.from(text)), undefined, "a duplicate key");
  });

  test("checkReceiptColumns: validateReceipt's rules against the block, and its messages", () => {
    const decode = (rs: J[]) => items(decodeReceiptsResponse(bytes(answer(rs))))[0]!.result;
    const rejects = (rs: J[], message: RegExp) =>
      assert.throws(
        () => checkReceiptColumns(decode(rs), block),
        (err: unknown) => err instanceof InvalidResponseError && message.test(err.message),
      );
    rejects(realReceipts().slice(0, -1), /^block 18000000: 93 receipts for 94 transactions$/);
    const swapped = realReceipts();
    [swapped[0], swapped[1]] = [
      { ...swapped[1], transactionIndex: "0x0", logs: [] },
      { ...swapped[0], transactionIndex: "0x1", logs: [] },
    ];
    rejects(
      swapped,
      /^block 18000000: receipt 0: transactionHash 0x[0-9a-f]{64} does not match the block's transaction 0/,
    );
    const other = realReceipts().map((r) => ({
      ...r,
      blockHash: `0x${"ee".repeat(32)}`,
      logs: r.logs.map((l: J) => ({ ...l, blockHash: `0x${"ee".repeat(32)}` })),
    }));
    rejects(other, /^block 18000000: receipt 0: receipt for the wrong block \(blockHash 0xeeee/);
  });

  test("never takes what JSON refuses, and agrees with validation on what it takes (random edits)", () => {
    const original = bytes(answer(realReceipts().slice(0, 6)));
    const six = { ...block, transactions: block.transactions.slice(0, 6) } as RpcBlock;
    assert.ok(decodeReceiptsResponse(original));
    let accepted = 0;
    for (const { parsed, decoded } of decodedEdits(
      original,
      { seed: 99, rounds: 4000, alphabet: '{}[]:,"\\ \n0123456789abcdefABCDEFxnul-.e\u0001' },
      decodeReceiptsResponse,
    )) {
      accepted++;
      const [item] = items(decoded);
      let receipts: RpcReceipt[];
      try {
        receipts = validateBlockReceipts((parsed as J).result, six);
      } catch (error) {
        assert.ok(error instanceof InvalidResponseError, String(error));
        assert.throws(() => checkReceiptColumns(item!.result, six), InvalidResponseError);
        continue;
      }
      assertSame(checkReceiptColumns(item!.result, six), receipts);
    }
    assert.ok(accepted > 250, `only ${accepted} edited answers were decoded`);
  });
});

describe("RpcClient.getBlocksWithReceiptColumns", () => {
  const numbers = Array.from({ length: 25 }, (_, k) => 300 + k);

  test("the same receipts as getBlocksWithReceipts; an unusual answer goes through JSON", async () => {
    // A cumulativeGasUsed with leading zeros past 13 digits is valid, but not the usual form.
    let n = 0;
    const fault = () =>
      n++ % 3 === 0
        ? ({
            kind: "tamper",
            fn: (rs: unknown) =>
              (rs as J[]).map((r) => ({
                ...r,
                cumulativeGasUsed: `0x0000000000000${(r.cumulativeGasUsed as string).slice(2)}`,
              })),
            only: (c: { method: string }) => c.method === "eth_getBlockReceipts",
          } as const)
        : undefined;
    await withFaultServer({ fault }, {}, async (client) => {
      const got = await client.getBlocksWithReceiptColumns(numbers);
      const want = await client.getBlocksWithReceipts(numbers);
      let asColumns = 0;
      got.forEach(({ receipts }, k) => {
        if (Array.isArray(receipts)) assert.deepEqual(receipts, want[k]!.receipts);
        else {
          asColumns++;
          assertSame(receipts as ReceiptColumns, want[k]!.receipts);
        }
      });
      assert.ok(asColumns > 0 && asColumns < numbers.length, `${asColumns} blocks as columns`);
    });
  });

  test("receipts that keep naming another block fail closed", async () => {
    const fault = () =>
      ({
        kind: "tamper",
        fn: (rs: unknown) => (rs as J[]).map((r) => ({ ...r, blockNumber: "0x1" })),
        only: (c: { method: string }) => c.method !== "eth_getBlockByNumber",
      }) as const;
    await withFaultServer({ fault }, { maxAttempts: 2 }, async (client) => {
      // With JSON blocks, and with blocks decoded from bytes (DecodedBlock.matches fails, then
      // checkReceiptColumns names it and the per-block refetch keeps failing).
      for (const call of [
        () => client.getBlocksWithReceiptColumns([301]),
        () => client.getTransactionBlocks([301], true),
      ]) {
        await assert.rejects(call(), (err: Error) => {
          assert.match(
            err.message,
            /block 301: receipt 0: receipt for the wrong block \(blockNumber 1\)/,
          );
          return true;
        });
      }
    });
  });
});
