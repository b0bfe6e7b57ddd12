import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { transactionRlpLength } from "../datasets/rlp.ts";
import { padQuantity } from "../datasets/values.ts";
import { SyntheticChain } from "../devnet/chain.ts";
import {
  checkDecodedBlock,
  type DecodedBlock,
  type DecodedBlockItem,
  decodeBlocksResponse,
} from "./blocks-decode.ts";
import { InvalidResponseError } from "./errors.ts";
import { checkReceiptColumns, decodeReceiptsResponse } from "./receipts-decode.ts";
import { recordedChain } from "./testing/chain.ts";
import { withFaultServer } from "./testing/harness.ts";
import { decodedEdits } from "./testing/random-edits.ts";
import type { RpcBlock, RpcTransaction } from "./types.ts";
import { validateBlock } from "./validate.ts";

const N = 18_000_000;
const recorded = recordedChain();
// biome-ignore lint/suspicious/noExplicitAny: tests build raw JSON freely
type J = Record<string, any>;
/** The real block 18,000,000 with its 94 full transactions. */
const realBlock = (): J => structuredClone(recorded.block(N)) as J;
const answer = (result: unknown, id = 1) => ({ jsonrpc: "2.0", id, result });
const bytes = (value: unknown, indent?: number) => Buffer.from(JSON.stringify(value, null, indent));

function items(decoded: ReturnType<typeof decodeBlocksResponse>): DecodedBlockItem[] {
  assert.ok(decoded, "decoded");
  return Array.isArray(decoded) ? decoded : [decoded];
}
const decodeOne = (block: unknown, full = true) =>
  items(decodeBlocksResponse(bytes(answer(block)), full))[0]!.result;

const hex = (b: Uint8Array, i: number, width: number) =>
  `0x${Buffer.from(b.buffer, b.byteOffset + i * width, width).toString("hex")}`;

/** Header strings as sent, and every transaction as the JSON path reads it. */
function assertSame(decoded: DecodedBlock, json: RpcBlock): void {
  for (const [k, v] of Object.entries(decoded.header)) assert.deepEqual(v, json[k], k);
  for (const k of ["number", "hash", "miner", "timestamp", "baseFeePerGas", "logsBloom"])
    assert.equal(decoded.header[k], json[k], k);
  const txs = decoded.txs;
  if (!txs) return;
  assert.equal(txs.count, json.transactions.length);
  let inputAt = 0;
  (json.transactions as RpcTransaction[]).forEach((tx: J, i) => {
    const at = `transaction ${i}`;
    const num = (v: string | undefined) => (v === undefined ? Number.NaN : Number.parseInt(v, 16));
    assert.equal(hex(txs.hash, i, 32), tx.hash.toLowerCase(), at);
    assert.equal(hex(txs.from, i, 20), tx.from.toLowerCase(), at);
    assert.equal(txs.toPresent[i] === 1 ? hex(txs.to, i, 20) : null, tx.to?.toLowerCase() ?? null);
    assert.equal(txs.nonce[i], num(tx.nonce), at);
    assert.equal(txs.gas[i], num(tx.gas), at);
    assert.deepEqual(txs.gasPrice[i], num(tx.gasPrice), at);
    assert.deepEqual(txs.maxFeePerGas[i], num(tx.maxFeePerGas), at);
    assert.deepEqual(txs.maxPriorityFeePerGas[i], num(tx.maxPriorityFeePerGas), at);
    assert.equal(txs.type[i], tx.type === undefined ? 0 : num(tx.type), at);
    assert.equal(txs.value[i], tx.value, at);
    const input = Buffer.from(tx.input.slice(2), "hex");
    assert.deepEqual(Buffer.from(txs.input.subarray(inputAt, txs.inputEnd[i])), input, at);
    assert.equal(txs.inputZeros[i], input.filter((x) => x === 0).length, at);
    inputAt = txs.inputEnd[i] as number;
    const present = txs.sigPresent[i] as number;
    assert.equal(present & 1 ? hex(txs.r, i, 32) : null, padQuantity("r", tx.r, 32), at);
    assert.equal(present & 2 ? hex(txs.s, i, 32) : null, padQuantity("s", tx.s, 32), at);
    assert.deepEqual(txs.v[i], num(tx.v), at);
    assert.deepEqual(txs.yParity[i], num(tx.yParity), at);
    let rlp: number | string;
    try {
      rlp = transactionRlpLength(tx) ?? -1;
    } catch (error) {
      // The field the JSON path names, e.g. "invalid value for column n_rlp_bytes (v): undefined".
      rlp = /\(([a-zA-Z]+)\)/.exec((error as Error).message)?.[1] ?? String(error);
    }
    const got = txs.rlpLength[i] === -2 ? txs.rlpMissing.get(i) : txs.rlpLength[i];
    assert.equal(got, rlp, at);
  });
}

describe("eth_getBlockByNumber answers decoded from bytes (blocks-decode)", () => {
  test("the real block 18,000,000: the same values as JSON.parse + validation", () => {
    const json = realBlock();
    const decoded = checkDecodedBlock(decodeOne(json), N);
    assertSame(decoded, validateBlock(structuredClone(json), N, true));
    assert.equal(decoded.txs?.count, 94);
    assert.deepEqual(
      decoded.withHashes().transactions,
      json.transactions.map((t: J) => t.hash.toLowerCase()),
    );
    // Hashes only; pretty-printed with keys reversed, in a batch: the same header.
    const hashes = { ...json, transactions: json.transactions.map((t: J) => t.hash) };
    const reversed = Object.fromEntries(Object.entries(hashes).reverse());
    const batch = items(
      decodeBlocksResponse(bytes([answer(reversed, 7), answer(hashes, 8)], 2), false),
    );
    for (const item of batch) {
      assert.equal(item.result.txs, undefined);
      assertSame(item.result, validateBlock(structuredClone(hashes), N, false));
    }
  });

  test("every transaction type of the devnet's bytes (access lists, blobs, contract creations)", () => {
    const chain = new SyntheticChain({ seed: "blocks-decode", length: 100 });
    const types = new Set<string>();
    for (let n = 1; n <= 30; n++) {
      const body = Buffer.concat([
        Buffer.from('{"jsonrpc":"2.0","id":1,"result":'),
        chain.blockBytes(n, true) as Buffer,
        Buffer.from("}"),
      ]);
      const json = JSON.parse(body.toString()).result as J;
      for (const tx of json.transactions) types.add(tx.type);
      const [item] = items(decodeBlocksResponse(body, true));
      assertSame(checkDecodedBlock(item!.result, n), validateBlock(json, n, true));
    }
    assert.deepEqual([...types].sort(), ["0x0", "0x1", "0x2", "0x3"]);
  });

  test("RLP lengths and fields that are rare on mainnet: the same as the JSON path", () => {
    const json = realBlock();
    const base = json.transactions.find((t: J) => t.type === "0x2");
    const legacy = json.transactions.find((t: J) => t.type === "0x0");
    const key = (k: number) => `0x${k.toString(16).padStart(64, "0")}`;
    const variants: J[] = [
      { ...base, accessList: [{ address: base.from, storageKeys: [key(1), key(2)] }] },
      {
        ...base,
        accessList: Array.from({ length: 3 }, () => ({ address: base.from, storageKeys: [] })),
      },
      { ...base, type: "0x1", gasPrice: base.maxFeePerGas, accessList: [] },
      {
        ...base,
        type: "0x3",
        maxFeePerBlobGas: "0x3b9aca00",
        blobVersionedHashes: [key(1), key(2), key(3)],
      },
      {
        ...base,
        type: "0x4",
        authorizationList: [
          { chainId: "0x1", address: base.from, nonce: "0x0", yParity: "0x1", r: "0x5", s: key(9) },
        ],
      },
      { ...base, yParity: undefined }, // typed, with only v
      { ...base, to: null, input: "0x7f" }, // a one-byte input below 0x80: its own RLP
      { ...base, input: "0x80", r: "0xabc", s: "0x00ff" }, // odd and zero-led r / s
      { ...base, input: "0x" },
      { ...legacy, v: "0x1b" },
      { ...legacy, v: "0x1c", to: undefined },
      { ...legacy, v: "0x26", value: `0x${"f".repeat(64)}` },
      { ...base, type: "0x7e", v: undefined, r: undefined, s: undefined, yParity: undefined },
      { ...base, input: `0x${"00ab".repeat(40_000)}` },
      { ...base, chainId: undefined }, // its n_rlp_bytes fails, naming chainId
      { ...legacy, v: undefined },
      { ...base, type: "0x3", blobVersionedHashes: [key(1)] }, // no maxFeePerBlobGas
    ];
    json.transactions = variants.map((t, i) => ({ ...t, transactionIndex: `0x${i.toString(16)}` }));
    const decoded = checkDecodedBlock(decodeOne(json), N);
    assertSame(decoded, validateBlock(structuredClone(json), N, true));
    assert.equal(decoded.txs?.rlpLength[12], -1, "a type that cannot be re-encoded");
  });

  test("anything outside the usual form or inconsistent within itself is left to JSON (undefined)", () => {
    const edit = (change: (b: J) => void) => {
      const b = realBlock();
      change(b);
      return b;
    };
    const tx = (change: (t: J) => J) =>
      edit((b) => (b.transactions[3] = change(b.transactions[3])));
    const cases: [string, unknown][] = [
      ["a null result", null],
      ["a null header field", edit((b) => (b.baseFeePerGas = null))],
      ["a missing header field", edit((b) => delete b.miner)],
      ["no transactions", edit((b) => delete b.transactions)],
      ["a hash for a transaction", edit((b) => (b.transactions[3] = b.transactions[3].hash))],
      ["a base fee past 2^52", edit((b) => (b.baseFeePerGas = "0x10000000000000"))],
      ["a missing transaction field", tx(({ nonce: _n, ...t }) => t)],
      ["a gas price past 2^52", tx((t) => ({ ...t, maxFeePerGas: "0x10000000000000" }))],
      ["a transaction of another block", tx((t) => ({ ...t, blockNumber: "0x1" }))],
      [
        "a transaction of another block hash",
        tx((t) => ({ ...t, blockHash: `0x${"ee".repeat(32)}` })),
      ],
      ["a transactionIndex out of place", tx((t) => ({ ...t, transactionIndex: "0x9" }))],
      [
        "an access list entry with another key",
        tx((t) => ({ ...t, accessList: [{ address: t.from, storageKeys: [], x: 1 }] })),
      ],
      ["a null access list", tx((t) => ({ ...t, accessList: null }))],
      ["an r of 65 digits", tx((t) => ({ ...t, r: `0x1${"0".repeat(64)}` }))],
      ["an uncle that is not a hash", edit((b) => (b.uncles = ["0x12"]))],
    ];
    for (const [what, result] of cases) {
      assert.equal(decodeBlocksResponse(bytes(answer(result)), true), undefined, what);
    }
    const hashesOnly = { ...realBlock(), transactions: [realBlock().transactions[0]] };
    assert.equal(
      decodeBlocksResponse(bytes(answer(hashesOnly)), false),
      undefined,
      "objects, not hashes",
    );
    const text = JSON.stringify(answer(realBlock())).replace('"gas":', '"gas":"0x1","gas":');
    assert.equal(decodeBlocksResponse(Buffer.from(text), true), undefined, "a duplicate key");
  });

  test("matches: the receipts' ties to the block compared as bytes, as checkReceiptColumns does", () => {
    const decoded = decodeOne(realBlock());
    const receipts = () => structuredClone(recorded.receipts(N)!) as J[];
    const cols = (rs: J[]) => {
      const [item] = [decodeReceiptsResponse(bytes(answer(rs)))].flat();
      assert.ok(item);
      return item.result;
    };
    assert.ok(decoded.matches(cols(receipts())));
    const other = (change: (rs: J[]) => J[]) => {
      const c = cols(change(receipts()));
      assert.equal(decoded.matches(c), false);
      assert.throws(() => checkReceiptColumns(c, decoded.withHashes()), InvalidResponseError);
    };
    other((rs) => rs.slice(0, -1));
    other((rs) => {
      [rs[0], rs[1]] = [
        { ...rs[1], transactionIndex: "0x0", logs: [] },
        { ...rs[0], transactionIndex: "0x1", logs: [] },
      ];
      return rs;
    });
    const ee = `0x${"ee".repeat(32)}`;
    other((rs) =>
      rs.map((r) => ({
        ...r,
        blockHash: ee,
        logs: r.logs.map((l: J) => ({ ...l, blockHash: ee })),
      })),
    );
    other((rs) =>
      rs.map((r) => ({
        ...r,
        blockNumber: "0x1",
        logs: r.logs.map((l: J) => ({ ...l, blockNumber: "0x1" })),
      })),
    );
    // A block decoded without its transactions cannot settle it.
    const hashesOnly = {
      ...realBlock(),
      transactions: realBlock().transactions.map((t: J) => t.hash),
    };
    assert.equal(decodeOne(hashesOnly, false).matches(cols(receipts())), false);
  });

  test("checkDecodedBlock: the block asked for, with validateBlock's message", () => {
    const decoded = decodeOne(realBlock());
    assert.throws(
      () => checkDecodedBlock(decoded, N + 1),
      (err: unknown) =>
        err instanceof InvalidResponseError &&
        err.message === "block 18000001: wrong block returned (number 18000000)",
    );
  });

  test("never takes what JSON refuses, and agrees with validation on what it takes (random edits)", () => {
    const json = realBlock();
    json.transactions = json.transactions.slice(0, 4);
    const original = bytes(answer(json));
    assert.ok(decodeBlocksResponse(original, true));
    let accepted = 0;
    for (const { parsed, decoded } of decodedEdits(
      original,
      { seed: 7, rounds: 4000, alphabet: '{}[]:,"\\ \n0123456789abcdefABCDEFxnul-.e\u0001' },
      (body) => decodeBlocksResponse(body, true),
    )) {
      accepted++;
      const [item] = items(decoded);
      let block: RpcBlock;
      try {
        block = validateBlock((parsed as J).result, N, true);
      } catch (error) {
        assert.ok(error instanceof InvalidResponseError, String(error));
        assert.throws(() => checkDecodedBlock(item!.result, N), InvalidResponseError);
        continue;
      }
      assertSame(checkDecodedBlock(item!.result, N), block);
    }
    assert.ok(accepted > 250, `only ${accepted} edited answers were decoded`);
  });
});

describe("RpcClient.getTransactionBlocks and getBlockHeaders", () => {
  const numbers = Array.from({ length: 25 }, (_, k) => 300 + k);

  test("the same blocks and receipts as the JSON methods; an unusual answer goes through JSON", async () => {
    // A nonce with leading zeros past 13 digits is valid, but not the usual form.
    let n = 0;
    const fault = () =>
      n++ % 3 === 0
        ? ({
            kind: "tamper",
            fn: (b: unknown) => {
              const block = b as J;
              if (!Array.isArray(block?.transactions) || typeof block.transactions[0] !== "object")
                return b;
              return {
                ...block,
                transactions: block.transactions.map((t: J) => ({
                  ...t,
                  nonce: `0x0000000000000${t.nonce.slice(2)}`,
                })),
              };
            },
            only: (c: { method: string }) => c.method === "eth_getBlockByNumber",
          } as const)
        : undefined;
    await withFaultServer({ fault }, {}, async (client) => {
      const got = await client.getTransactionBlocks(numbers, true);
      const want = await client.getBlocksWithReceipts(numbers);
      let asColumns = 0;
      got.forEach((g, k) => {
        const w = want[k]!;
        if (g.txs) {
          asColumns++;
          assertSame({ header: g.block, txs: g.txs } as DecodedBlock, w.block);
        } else assert.deepEqual(g.block, w.block);
        const receipts = g.receipts as { count?: number; gasUsed: unknown };
        assert.equal(Array.isArray(receipts) ? receipts.length : receipts.count, w.receipts.length);
      });
      assert.ok(asColumns > 0 && asColumns < numbers.length, `${asColumns} blocks as columns`);
      const noReceipts = await client.getTransactionBlocks(numbers, false);
      assert.ok(noReceipts.every((b) => b.receipts === null));
      const headers = await client.getBlockHeaders(numbers);
      const full = await client.getBlocks(numbers, false);
      headers.forEach((h, k) => {
        for (const [key, v] of Object.entries(h)) {
          if (key !== "transactions") assert.deepEqual(v, full[k]![key], key);
        }
      });
    });
  });

  test("a block that keeps coming back as another one fails closed", async () => {
    const fault = () =>
      ({
        kind: "tamper",
        fn: (b: unknown) => ({ ...(b as J), number: "0x1" }),
        only: (c: { method: string }) => c.method === "eth_getBlockByNumber",
      }) as const;
    await withFaultServer({ fault }, { maxAttempts: 2 }, async (client) => {
      for (const call of [
        () => client.getTransactionBlocks([301], false),
        () => client.getBlockHeaders([301]),
      ]) {
        await assert.rejects(call(), (err: Error) => {
          assert.match(err.message, /block 301: wrong block returned \(number 1\)/);
          return true;
        });
      }
    });
  });
});
