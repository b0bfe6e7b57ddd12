import assert from "node:assert/strict";
import { test } from "node:test";
import {
  hexToBytes,
  isAddress,
  isHash,
  isHexData,
  isHexQuantity,
  parseHexBigInt,
  parseHexQuantity,
  toHexQuantity,
} from "./hex.ts";

test("quantities", () => {
  assert.equal(parseHexQuantity("0x112a880"), 18_000_000);
  assert.equal(parseHexQuantity("0x112A880"), 18_000_000);
  assert.equal(parseHexQuantity("0x0"), 0);
  assert.equal(parseHexBigInt(`0x${"f".repeat(64)}`), 2n ** 256n - 1n);
  assert.throws(() => parseHexQuantity("0x20000000000000"), /exceeds 2\^53-1/);
  for (const bad of ["", "0x", "112a880", "0xg1", " 0x1", "0x1 "]) {
    assert.equal(isHexQuantity(bad), false, bad);
    assert.throws(() => parseHexQuantity(bad), /not a hex quantity/);
  }
  assert.equal(toHexQuantity(18_000_000), "0x112a880");
  assert.equal(toHexQuantity(0), "0x0");
  assert.throws(() => toHexQuantity(-1));
  assert.throws(() => toHexQuantity(1.5));
});

test("data, hashes, addresses", () => {
  assert.equal(isHexData("0x"), true);
  assert.equal(isHexData("0xab01"), true);
  assert.equal(isHexData("0xabc"), false);
  assert.equal(isHexData("0xzz"), false);
  assert.equal(isHash(`0x${"a".repeat(64)}`), true);
  assert.equal(isHash(`0x${"a".repeat(63)}`), false);
  assert.equal(isAddress(`0x${"A".repeat(40)}`), true);
  assert.equal(isAddress(`0x${"a".repeat(41)}`), false);
  assert.deepEqual([...hexToBytes("0x00ff10")], [0, 255, 16]);
  assert.throws(() => hexToBytes("0x0g"), /not hex data/);
});

test("non-ASCII characters whose low byte is a hex digit are not hex", () => {
  // U+0130 / U+0161 / U+0A30 end in 0x30 / 0x61 / 0x30 ("0", "a", "0"): a decoder that reads
  // low bytes would accept them.
  for (const ch of ["\u0130", "\u0161", "\u0a30", "\u0041\u0301".slice(1)]) {
    assert.equal(isHash(`0x${"a".repeat(62)}${ch}a`), false, ch);
    assert.equal(isHash(`0x${ch.repeat(64)}`), false, ch);
    assert.equal(isAddress(`0x${ch.repeat(40)}`), false, ch);
    assert.equal(isHexData(`0x${"00".repeat(100)}${ch}0`), false, ch);
    assert.equal(isHexData(`0x${ch}0`), false, ch);
    assert.equal(isHexQuantity(`0x1${ch}`), false, ch);
  }
  assert.equal(isHexData(`0x${"aB".repeat(70_000)}`), true); // longer than the scratch buffer
  assert.equal(isHexData(`0x${"aB".repeat(70_000)}\u0130f`), false);
});
