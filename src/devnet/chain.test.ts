import assert from "node:assert/strict";
import { test } from "node:test";
import { EMPTY_UNCLES_HASH, SyntheticChain, TRANSFER_TOPIC, ZERO_HASH } from "./chain.ts";

// biome-ignore lint/suspicious/noExplicitAny: node JSON checked by value
type Json = Record<string, any>;

const QUANTITY = /^0x(0|[1-9a-f][0-9a-f]*)$/;
const HASH = /^0x[0-9a-f]{64}$/;
const ADDRESS = /^0x[0-9a-f]{40}$/;
const DATA = /^0x([0-9a-f]{2})*$/;
const big = (x: string) => BigInt(x);

function assertQuantities(o: Json, keys: string[], where: string): void {
  for (const k of keys) {
    if (o[k] !== undefined) assert.match(o[k], QUANTITY, `${where}.${k} = ${o[k]}`);
  }
}

test("the same seed gives the same chain, in any generation order; another seed does not", () => {
  const a = new SyntheticChain({ seed: 42 });
  const b = new SyntheticChain({ seed: 42, cacheBlocks: 1 });
  const blocks = [0, 1, 77, 5_000, 999_999];
  const fromA = blocks.map((n) => [a.blockJson(n, true), a.receiptsJson(n)]);
  const fromB = [...blocks].reverse().map((n) => [b.blockJson(n, true), b.receiptsJson(n)]);
  assert.deepEqual(fromA, fromB.reverse());
  const c = new SyntheticChain({ seed: 43 });
  assert.notEqual(c.blockJson(77, true), a.blockJson(77, true));
  assert.notEqual(new SyntheticChain({ seed: "42" }).blockHash(1), a.blockHash(1));
  assert.equal(a.blockJson(1_000_000, false), null);
  assert.equal(a.receiptsJson(-1), null);
});

test("blocks, transactions, receipts and logs are internally consistent", () => {
  const chain = new SyntheticChain({ seed: "consistency", txsPerBlock: 60, logsPerBlock: 120 });
  const seen = {
    types: new Set<string>(),
    failed: 0,
    creations: 0,
    zeroValue: 0,
    hugeValue: 0,
    topicCounts: new Set<number>(),
    inputLengths: new Set<number>(),
    oddInput: 0,
    dataLengths: new Set<number>(),
  };
  const txHashes = new Set<string>();
  let prevTimestamp = -1;
  for (let n = 0; n < 300; n++) {
    const block = chain.block(n, true)!;
    const receipts = chain.receipts(n)!;
    const where = `block ${n}`;
    assert.equal(block.number, `0x${n.toString(16)}`);
    assert.equal(block.hash, chain.blockHash(n));
    assert.match(block.hash, HASH);
    assert.equal(block.parentHash, n === 0 ? ZERO_HASH : chain.block(n - 1, false)!.hash);
    assert.equal(block.sha3Uncles, EMPTY_UNCLES_HASH);
    assert.deepEqual(block.uncles, []);
    assert.match(block.miner, ADDRESS);
    for (const k of [
      "stateRoot",
      "transactionsRoot",
      "receiptsRoot",
      "mixHash",
      "withdrawalsRoot",
      "parentBeaconBlockRoot",
    ]) {
      assert.match(block[k], HASH, `${where}.${k}`);
    }
    assert.match(block.logsBloom, /^0x[0-9a-f]{512}$/);
    assert.match(block.extraData, DATA);
    assertQuantities(
      block,
      [
        "number",
        "gasUsed",
        "gasLimit",
        "timestamp",
        "baseFeePerGas",
        "size",
        "blobGasUsed",
        "excessBlobGas",
        "difficulty",
      ],
      where,
    );
    assert.ok(Number(block.timestamp) > prevTimestamp);
    prevTimestamp = Number(block.timestamp);
    assert.equal(block.withdrawals.length, 16);
    block.withdrawals.forEach((w: Json, k: number) => {
      assert.equal(Number(w.index), n * 16 + k);
      assert.match(w.address, ADDRESS);
    });

    const txs: Json[] = block.transactions;
    assert.equal(txs.length, chain.txCount(n));
    assert.equal(receipts.length, txs.length);
    const baseFee = big(block.baseFeePerGas);
    let cumulative = 0n;
    let nextLogIndex = 0;
    let blobGas = 0n;
    const blockBloom = big(block.logsBloom);
    for (const [i, tx] of txs.entries()) {
      const rc = receipts[i]!;
      const at = `${where} tx ${i}`;
      assert.equal(tx.hash, chain.txHash(n, i));
      assert.match(tx.hash, HASH);
      assert.ok(!txHashes.has(tx.hash), `${at}: duplicate hash`);
      txHashes.add(tx.hash);
      assert.equal(tx.blockHash, block.hash);
      assert.equal(tx.blockNumber, block.number);
      assert.equal(tx.transactionIndex, `0x${i.toString(16)}`);
      assert.match(tx.from, ADDRESS);
      assert.match(tx.input, tx.input.length % 2 === 0 ? DATA : /^$/, at);
      assertQuantities(
        tx,
        [
          "nonce",
          "gas",
          "gasPrice",
          "value",
          "v",
          "type",
          "maxFeePerGas",
          "maxPriorityFeePerGas",
          "maxFeePerBlobGas",
          "chainId",
          "r",
          "s",
          "yParity",
        ],
        at,
      );
      seen.types.add(tx.type);
      seen.inputLengths.add((tx.input.length - 2) / 2);
      if (((tx.input.length - 10) / 2) % 32 !== 0 && tx.input !== "0x" && tx.to !== null)
        seen.oddInput++;
      if (tx.value === "0x0") seen.zeroValue++;
      if (big(tx.value) >= 2n ** 64n) seen.hugeValue++;
      switch (tx.type) {
        case "0x0":
          assert.equal(tx.accessList, undefined);
          assert.equal(tx.maxFeePerGas, undefined);
          assert.equal(big(tx.v), 31337n * 2n + 35n + (big(tx.v) % 2n === 0n ? 1n : 0n));
          break;
        case "0x1":
          assert.ok(Array.isArray(tx.accessList) && tx.accessList.length > 0, at);
          assert.equal(tx.maxFeePerGas, undefined);
          assert.equal(tx.v, tx.yParity);
          break;
        case "0x2":
        case "0x3": {
          assert.ok(Array.isArray(tx.accessList));
          const maxFee = big(tx.maxFeePerGas);
          const tip = big(tx.maxPriorityFeePerGas);
          assert.ok(maxFee >= baseFee, at);
          // min() by hand: Math.min does not take bigints.
          // biome-ignore lint/complexity/useMathMinMax: bigint operands
          const effective = baseFee + (tip < maxFee - baseFee ? tip : maxFee - baseFee);
          assert.equal(big(tx.gasPrice), effective, at);
          if (tx.type === "0x3") {
            assert.ok(tx.blobVersionedHashes.length >= 1 && tx.blobVersionedHashes.length <= 6);
            for (const h of tx.blobVersionedHashes) assert.match(h, /^0x01[0-9a-f]{62}$/);
            assert.match(tx.maxFeePerBlobGas, QUANTITY);
            assert.notEqual(tx.to, null);
            assert.equal(big(rc.blobGasUsed), 131072n * BigInt(tx.blobVersionedHashes.length));
            blobGas += big(rc.blobGasUsed);
          }
          break;
        }
        default:
          assert.fail(`${at}: unexpected type ${tx.type}`);
      }
      if (tx.type !== "0x0") assert.ok(big(tx.gasPrice) >= baseFee);

      // The receipt belongs to this transaction.
      assert.equal(rc.transactionHash, tx.hash);
      assert.equal(rc.blockHash, block.hash);
      assert.equal(rc.blockNumber, block.number);
      assert.equal(rc.transactionIndex, tx.transactionIndex);
      assert.equal(rc.from, tx.from);
      assert.equal(rc.to, tx.to);
      assert.equal(rc.type, tx.type);
      assert.equal(rc.effectiveGasPrice, tx.gasPrice);
      assertQuantities(rc, ["cumulativeGasUsed", "gasUsed", "effectiveGasPrice", "status"], at);
      assert.ok(big(rc.gasUsed) >= 21000n && big(rc.gasUsed) <= big(tx.gas), at);
      cumulative += big(rc.gasUsed);
      assert.equal(big(rc.cumulativeGasUsed), cumulative, at);
      if (tx.to === null) {
        seen.creations++;
        assert.match(rc.contractAddress, ADDRESS);
      } else assert.equal(rc.contractAddress, null);
      if (rc.status === "0x0") {
        seen.failed++;
        assert.equal(rc.logs.length, 0);
      }
      const bloom = big(rc.logsBloom);
      assert.equal(bloom & blockBloom, bloom, `${at}: receipt bloom not in block bloom`);
      for (const log of rc.logs as Json[]) {
        assert.equal(log.logIndex, `0x${nextLogIndex.toString(16)}`);
        nextLogIndex++;
        assert.equal(log.blockHash, block.hash);
        assert.equal(log.blockNumber, block.number);
        assert.equal(log.transactionHash, tx.hash);
        assert.equal(log.transactionIndex, tx.transactionIndex);
        assert.equal(log.removed, false);
        assert.match(log.address, ADDRESS);
        assert.match(log.data, DATA);
        for (const t of log.topics) assert.match(t, HASH);
        assert.ok(log.topics.length <= 4);
        seen.topicCounts.add(log.topics.length);
        seen.dataLengths.add((log.data.length - 2) / 2);
        if (log.topics[0] === TRANSFER_TOPIC && log.topics.length === 3)
          assert.equal(log.data.length, 66);
      }
    }
    assert.equal(big(block.gasUsed), cumulative, `${where}: gasUsed = sum of receipts`);
    assert.ok(cumulative <= big(block.gasLimit));
    assert.equal(big(block.blobGasUsed), blobGas);

    const light = chain.block(n, false)!;
    assert.deepEqual(
      light.transactions,
      txs.map((t) => t.hash),
    );
    assert.deepEqual({ ...light, transactions: [] }, { ...block, transactions: [] });
  }
  assert.deepEqual([...seen.types].sort(), ["0x0", "0x1", "0x2", "0x3"]);
  assert.ok(
    seen.failed > 0 && seen.creations > 0 && seen.zeroValue > 0 && seen.hugeValue > 0,
    JSON.stringify(seen),
  );
  assert.deepEqual([...seen.topicCounts].sort(), [0, 1, 2, 3, 4]);
  assert.ok(seen.inputLengths.size > 50 && seen.inputLengths.has(0));
  assert.ok(seen.oddInput > 0);
  assert.ok(seen.dataLengths.size > 10 && seen.dataLengths.has(0) && seen.dataLengths.has(32));
});

test("hashes resolve back to their block and transaction", () => {
  const chain = new SyntheticChain({ seed: 5, length: 1_000, txsPerBlock: 20, logsPerBlock: 30 });
  const block = chain.block(321, true)!;
  const tx = block.transactions[7];
  assert.deepEqual(chain.locateTx(tx.hash), { blockNumber: 321, index: 7 });
  assert.deepEqual(chain.locateTx(tx.hash.toUpperCase().replace("0X", "0x")), {
    blockNumber: 321,
    index: 7,
  });
  assert.deepEqual(chain.transactionReceipt(tx.hash), chain.receipts(321)![7]);
  assert.equal(chain.locateBlock(block.hash), 321);
  assert.equal(chain.locateBlock(tx.hash), undefined);
  assert.equal(chain.locateTx(block.hash), undefined);
  const flipped = `${tx.hash.slice(0, 10)}${tx.hash[10] === "0" ? "1" : "0"}${tx.hash.slice(11)}`;
  assert.equal(chain.locateTx(flipped), undefined);
  assert.equal(chain.transactionReceipt(`0x${"00".repeat(32)}`), null);
  // Beyond the head: not (yet) part of the chain; after extend() it is, unchanged.
  const later = chain.txHash(1_005, 0);
  assert.equal(chain.locateTx(later), undefined);
  const before = new SyntheticChain({
    seed: 5,
    length: 2_000,
    txsPerBlock: 20,
    logsPerBlock: 30,
  }).blockJson(1_005, true);
  assert.equal(chain.extend(10), 1_009);
  assert.deepEqual(chain.locateTx(later), { blockNumber: 1_005, index: 0 });
  assert.equal(chain.blockJson(1_005, true), before);
});

test("logs() applies eth_getLogs filter semantics", () => {
  const chain = new SyntheticChain({ seed: 11, txsPerBlock: 30, logsPerBlock: 80 });
  const all: Json[] = [];
  for (let n = 40; n <= 49; n++) all.push(...chain.receipts(n)!.flatMap((r) => r.logs));
  const range = { fromBlock: 40, toBlock: 49 };
  assert.deepEqual(chain.logs(range), all);
  const sample = all.find((l) => l.topics.length === 3 && l.topics[0] === TRANSFER_TOPIC)!;
  assert.deepEqual(
    chain.logs({ ...range, address: sample.address }),
    all.filter((l) => l.address === sample.address),
  );
  assert.deepEqual(
    chain.logs({ ...range, topics: [null, null, sample.topics[2]] }),
    all.filter((l) => l.topics.length >= 3 && l.topics[2] === sample.topics[2]),
  );
  assert.deepEqual(
    chain.logs({
      ...range,
      topics: [[TRANSFER_TOPIC, all[0]!.topics[0] ?? TRANSFER_TOPIC], null, null, null],
    }),
    all.filter(
      (l) =>
        l.topics.length === 4 &&
        (l.topics[0] === TRANSFER_TOPIC || l.topics[0] === all[0]!.topics[0]),
    ),
  );
  assert.deepEqual(chain.logs({ ...range, topics: [], address: [] }), all);
  assert.throws(() => chain.logs({ ...range, topics: ["0x1234"] }), /topic/);
});

test("sizes: exact counts without jitter, mainnet-like defaults, bad options rejected", () => {
  const exact = new SyntheticChain({ seed: 3, txsPerBlock: 10, logsPerBlock: 25, jitter: 0 });
  for (let n = 0; n < 50; n++) {
    const receipts = exact.receipts(n)!;
    assert.equal(receipts.length, 10);
    assert.equal(
      receipts.reduce((s, r) => s + r.logs.length, 0),
      25,
    );
  }
  const empty = new SyntheticChain({ txsPerBlock: 0, logsPerBlock: 0, jitter: 0 });
  assert.deepEqual(empty.block(3, true)!.transactions, []);
  assert.deepEqual(empty.receipts(3), []);

  const mainnet = new SyntheticChain({ seed: 9 });
  let txs = 0;
  let logs = 0;
  for (let n = 1_000; n < 1_020; n++) {
    txs += mainnet.txCount(n);
    logs += mainnet.receipts(n)!.reduce((s, r) => s + r.logs.length, 0);
  }
  assert.ok(txs / 20 > 120 && txs / 20 < 180, `mean txs ${txs / 20}`);
  assert.ok(logs / 20 > 240 && logs / 20 < 360, `mean logs ${logs / 20}`);

  assert.throws(() => new SyntheticChain({ length: 0 }), /length/);
  assert.throws(() => new SyntheticChain({ txsPerBlock: -1 }), /txsPerBlock/);
  assert.throws(() => new SyntheticChain({ jitter: 2 }), /jitter/);
});
