import assert from "node:assert/strict";
import { test } from "node:test";
import { FatalError } from "../core/errors.ts";
import { validateKey, validateObjectName, validatePrefix } from "./keys.ts";

const isNameError = (e: unknown) => e instanceof FatalError && e.category === "invalid_object_name";

test("plain and nested object names pass", () => {
  for (const ok of [
    "blocks__00000000_to_00000999.parquet",
    "sub/dir/x.parquet",
    "a..b.parquet",
    ".hidden",
    "ünïcode.parquet",
  ])
    assert.equal(validateObjectName(ok), ok);
});

test("traversal, absolute paths, control characters and odd shapes are refused", () => {
  const bad = [
    "",
    "..",
    "../x.parquet",
    "a/../../x",
    "a/./b",
    "./a",
    "/etc/passwd",
    "a//b",
    "a/",
    "a\\..\\b",
    "x\u0000.parquet",
    "x\n.parquet",
    "x\u007f",
    "x\u0085",
    "lone\ud800surrogate",
    "data.parquet.0123456789abcdef.trace-tmp",
    "x".repeat(513),
  ];
  for (const name of bad)
    assert.throws(() => validateObjectName(name), isNameError, JSON.stringify(name));
  assert.throws(() => validateObjectName(42 as unknown as string), isNameError);
});

test("error messages show control characters escaped", () => {
  assert.throws(
    () => validateObjectName("a\u0001b"),
    (e: Error) => e.message.includes("\\u0001") && !e.message.includes("\u0001"),
  );
});

test("keys are bounded at 1024 bytes; prefixes end with a slash", () => {
  assert.equal(validateKey(`${"p/".repeat(100)}x`), `${"p/".repeat(100)}x`);
  assert.throws(() => validateKey("k".repeat(1025)), isNameError);
  assert.equal(validatePrefix(""), "");
  assert.equal(validatePrefix("cryo/1/"), "cryo/1/");
  assert.throws(() => validatePrefix("cryo/1"), isNameError);
  assert.throws(() => validatePrefix("../"), isNameError);
  assert.throws(() => validatePrefix("/abs/"), isNameError);
});
