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
