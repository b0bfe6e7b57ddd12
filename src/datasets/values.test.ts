import assert from "node:assert/strict";
import { test } from "node:test";
import { makeVector } from "apache-arrow";
import { BytesColumn, FixedColumn, U64Column } from "../parquet/columns.ts";
import {
  countBytes,
  dataLength,
  hexNumber,
  parseU256,
  writeBinary,
  writeU32,
  writeU64,
} from "./values.ts";

/** The hot-path hex parsers (char loops, no regex) against BigInt as the independent reference. */

const MALFORMED = [
  "0x",
  "0x1g",
  "12",
  "0X1",
  "0x 1",
  "",
  "0x-1",
  `0x${"1".repeat(65)}`,
  "0x\u0130",
];

test("u64 / u32 columns: low bits of any quantity up to 256 bits, wrapping like Rust's `as`", () => {
  const values = [
    "0x0",
    "0x1",
    "0xff",
    "0xFFFFFFFF",
    "0x100000000",
    "0x123456789abcdef0",
    "0xffffffffffffffff",
    "0x10000000000000000",
    "0x00000000000000000000000000000000000000000000000000000000000000ab",
    `0x${"f".repeat(64)}`,
    "0xdeadbeefcafebabe1234",
  ];
  const u64 = new U64Column();
  const u32 = new FixedColumn("u32");
  for (const v of values) {
    writeU64(u64, "x", v);
    writeU32(u32, "x", v);
  }
  const got64 = [...makeVector(u64.finish())] as bigint[];
  const got32 = [...makeVector(u32.finish())] as number[];
  assert.deepEqual(
    got64,
    values.map((v) => BigInt.asUintN(64, BigInt(v))),
  );
  assert.deepEqual(
    got32,
    values.map((v) => Number(BigInt.asUintN(32, BigInt(v)))),
  );
  for (const bad of MALFORMED) {
    assert.throws(() => writeU64(new U64Column(), "gas", bad), /invalid value for column gas/, bad);
    assert.throws(() => writeU32(new FixedColumn("u32"), "n", bad), /invalid value for column n/);
  }
});

test("hexNumber: exact safe integers, anything larger or malformed is refused", () => {
  assert.equal(hexNumber("n", "0x0"), 0);
  assert.equal(hexNumber("n", "0x112a880"), 18_000_000);
  assert.equal(hexNumber("n", "0x1fffffffffffff"), Number.MAX_SAFE_INTEGER);
  assert.equal(hexNumber("n", `0x${"0".repeat(60)}ABCD`), 0xabcd);
  assert.throws(() => hexNumber("n", "0x20000000000000"), /invalid value for column n/);
  assert.throws(() => hexNumber("n", `0x${"f".repeat(64)}`), /invalid value for column n/);
  for (const bad of [...MALFORMED, 5, null]) {
    assert.throws(() => hexNumber("n", bad), /invalid value for column n/, String(bad));
  }
});

test("parseU256 accepts 1-64 hex digits and refuses anything else", () => {
  assert.equal(parseU256("v", `0x${"f".repeat(64)}`), 2n ** 256n - 1n);
  assert.equal(parseU256("v", "0xAb"), 0xabn);
  for (const bad of MALFORMED) assert.throws(() => parseU256("v", bad), /column v/, bad);
});

test("data byte counts: total and zero bytes; malformed data is refused", () => {
  assert.deepEqual(countBytes("input", "0x"), { total: 0, zero: 0 });
  assert.deepEqual(countBytes("input", "0x00ff0010"), { total: 4, zero: 2 });
  assert.deepEqual(countBytes("input", `0x${"00".repeat(100_000)}01`), {
    total: 100_001,
    zero: 100_000,
  });
  // the scratch buffer is reused: a shorter value after a long one counts only its own bytes
  assert.deepEqual(countBytes("input", "0x0001"), { total: 2, zero: 1 });
  assert.equal(dataLength("data", "0xabCD"), 2);
  // "\u0130" / "\u0a30" have low byte 0x30 ("0"): a decoder reading low bytes would accept them.
  for (const bad of [
    "0x1",
    "0xzz",
    "ab",
    "0x0g",
    7,
    "0x\u0130\u0130",
    `0x${"00".repeat(40)}\u0a30a`,
  ]) {
    assert.throws(() => countBytes("input", bad as string), /column input/, String(bad));
    assert.throws(() => dataLength("data", bad as string), /column data/, String(bad));
  }
});

test("writeBinary refuses non-ASCII look-alikes of hex digits", () => {
  const col = new BytesColumn("binary");
  writeBinary(col, "data", "0x00ff");
  for (const bad of ["0x\u0130\u0130", `0x${"ab".repeat(40)}\u0161\u0161`]) {
    assert.throws(() => writeBinary(col, "data", bad), /column data/, bad);
  }
  assert.equal(col.length, 1);
});
