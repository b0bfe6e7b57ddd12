import assert from "node:assert/strict";
import { test } from "node:test";
import { makeVector } from "apache-arrow";
import { BoolColumn, BytesColumn, FixedColumn, U64Column } from "./columns.ts";

/** Builders against the plain values they were given, read back through apache-arrow. */

test("nulls anywhere in a column (first, after many valid rows, last) keep every other value", () => {
  for (const nullAt of [[0], [9], [8, 1000], [2500], [4999], []]) {
    const n = 5000;
    const fixed = new FixedColumn("u32");
    const u64 = new U64Column();
    const bool = new BoolColumn();
    const bytes = new BytesColumn("binary");
    const expected: (number | null)[] = [];
    for (let i = 0; i < n; i++) {
      if (nullAt.includes(i)) {
        fixed.appendNull();
        u64.appendNull();
        bool.appendNull();
        bytes.appendNull();
        expected.push(null);
      } else {
        fixed.append(i);
        u64.appendNumber(i);
        bool.append(i % 3 === 0);
        bytes.append(Uint8Array.of(i & 255, i >> 8));
        expected.push(i);
      }
    }
    const label = `nulls at ${nullAt.join(",")}`;
    const fixedData = fixed.finish();
    assert.equal(fixedData.nullCount, nullAt.length, label);
    assert.deepEqual([...makeVector(fixedData)], expected, label);
    assert.deepEqual(
      [...makeVector(u64.finish())],
      expected.map((v) => (v === null ? null : BigInt(v))),
      label,
    );
    assert.deepEqual(
      [...makeVector(bool.finish())],
      expected.map((v) => (v === null ? null : v % 3 === 0)),
      label,
    );
    assert.deepEqual(
      [...makeVector(bytes.finish())].map((b) => (b === null ? null : [...(b as Uint8Array)])),
      expected.map((v) => (v === null ? null : [v & 255, v >> 8])),
      label,
    );
  }
});

test("byte columns grow past their initial buffers and start over empty after finish", () => {
  const col = new BytesColumn("utf8");
  const values: string[] = [];
  for (let i = 0; i < 3000; i++) values.push(`value-${i}-${"x".repeat(i % 50)}`);
  for (const v of values) col.appendAscii(v);
  const first = col.finish();
  assert.deepEqual([...makeVector(first)], values);
  // the first batch's data is a copy: writing the next batch must not change it
  col.appendAscii("next");
  const at = col.reserve(3);
  col.view.write("abc", at, 3, "latin1");
  col.commit(3);
  assert.deepEqual([...makeVector(col.finish())], ["next", "abc"]);
  assert.deepEqual([...makeVector(first)], values);
});

test("hex digits appended in bulk decode to the same bytes; a malformed one is found by value", () => {
  const col = new BytesColumn("binary");
  const values: (string | null)[] = [];
  // enough to pass the 64 KiB bulk-decode threshold several times, with nulls and empty values
  for (let i = 0; i < 5000; i++) {
    values.push(
      i % 7 === 0
        ? null
        : i % 11 === 0
          ? ""
          : (i * 2654435761)
              .toString(16)
              .padStart(64, "0")
              .slice(0, 2 * (1 + (i % 32))),
    );
  }
  for (const v of values) {
    if (v === null) col.appendNull();
    else assert.equal(col.appendHexDigits(v), undefined);
  }
  assert.equal(col.decodePending(), undefined);
  assert.deepEqual(
    [...makeVector(col.finish())].map((b) =>
      b === null ? null : Buffer.from(b as Uint8Array).toString("hex"),
    ),
    values,
  );

  col.appendHexDigits("abcd");
  col.appendHexDigits("12zz");
  col.appendHexDigits("ef01");
  assert.equal(col.decodePending(), "12zz");
  col.discard();
  // Non-ASCII characters whose low byte is a hex digit ("\u0130" → 0x30 "0") are malformed too.
  col.appendHexDigits("abcd");
  col.appendHexDigits("\u0130\u0130");
  assert.equal(col.decodePending(), "\u0130\u0130");
  col.discard();
  col.appendHexDigits("12zz");
  assert.equal(col.decodePending(), "12zz");
  assert.throws(() => col.finish(), /malformed hex/);
  assert.throws(() => col.reserve(1), /decode pending hex/);
  col.discard();
  col.appendHexDigits("0a0b");
  assert.deepEqual(
    [...makeVector(col.finish())].map((b) => [...(b as Uint8Array)]),
    [[10, 11]],
  );
});
