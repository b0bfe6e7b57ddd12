/**
 * n_rlp_bytes: the EIP-2718 encoding rebuilt from JSON-RPC transactions is checked against the
 * chain itself — keccak256 of the encoding must equal the transaction hash — for every recorded
 * mainnet transaction (legacy, EIP-155, access-list, EIP-1559 and blob transactions).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadRecordings } from "./fixtures.ts";
import {
  encodeTransaction,
  type RlpTx,
  rlpEncode,
  rlpLength,
  transactionRlpLength,
} from "./rlp.ts";
import { keccak256 } from "./testing/keccak.ts";

test("the test's keccak256 matches the published empty-input digest", () => {
  assert.equal(
    keccak256(new Uint8Array(0)),
    "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
  );
});

test("RLP basics: single bytes, short and long strings and lists", () => {
  assert.equal(rlpEncode("").toString("hex"), "80");
  assert.equal(rlpEncode("7f").toString("hex"), "7f");
  assert.equal(rlpEncode("80").toString("hex"), "8180");
  assert.equal(rlpEncode([]).toString("hex"), "c0");
  // "dog" and ["cat","dog"] from the RLP specification.
  assert.equal(rlpEncode("646f67").toString("hex"), "83646f67");
  assert.equal(rlpEncode(["636174", "646f67"]).toString("hex"), "c88363617483646f67");
  const long = "ab".repeat(56);
  assert.equal(rlpEncode(long).subarray(0, 2).toString("hex"), "b838");
  const big = "cd".repeat(70_000);
  assert.equal(rlpEncode(big).subarray(0, 4).toString("hex"), "ba011170");
  for (const item of ["", "00", "7f", "80", long, big, [long, [big, ""]], []]) {
    assert.equal(rlpLength(item), rlpEncode(item).length);
  }
});

function recordedTransactions(): RlpTx[] {
  const txs: RlpTx[] = [];
  for (const r of loadRecordings()) {
    if (r.method !== "eth_getBlockByNumber" || r.params[1] !== true || !r.result) continue;
    for (const tx of (r.result as { transactions: RlpTx[] }).transactions) txs.push(tx);
  }
  return txs;
}

test("every recorded mainnet transaction re-encodes to the bytes its hash commits to", () => {
  const txs = recordedTransactions();
  const byType = new Map<string, number>();
  for (const tx of txs) {
    const hash = (tx as { hash: string }).hash;
    const bytes = encodeTransaction(tx);
    assert.ok(bytes, `type ${tx.type} not encoded`);
    assert.equal(keccak256(bytes), hash.toLowerCase(), `transaction ${hash} (type ${tx.type})`);
    assert.equal(transactionRlpLength(tx), bytes.length);
    byType.set(tx.type ?? "0x0", (byType.get(tx.type ?? "0x0") ?? 0) + 1);
  }
  // The recordings cover legacy, access-list, EIP-1559 and blob transactions.
  assert.deepEqual([...byType.keys()].sort(), ["0x0", "0x1", "0x2", "0x3"]);
  assert.ok(txs.length > 500, `${txs.length} transactions`);
});

test("types that cannot be re-encoded give null; malformed fields a specific error", () => {
  assert.equal(transactionRlpLength({ type: "0x7e", nonce: "0x0" }), null);
  const tx = recordedTransactions().find((t) => t.type === "0x2")!;
  assert.throws(
    () => transactionRlpLength({ ...tx, r: "0xzz" }),
    /invalid value for column n_rlp_bytes \(r\)/,
  );
  assert.throws(
    () => transactionRlpLength({ ...tx, type: "0x3", blobVersionedHashes: undefined }),
    /invalid value for column n_rlp_bytes \(blobVersionedHashes\): undefined/,
  );
});
