import assert from "node:assert/strict";
import { test } from "node:test";
import { parseBlockRange } from "./usage.ts";

test("--blocks reads cryo's forms: a:b (end exclusive), a:+n, :b, a:latest and a:", () => {
  assert.deepEqual(parseBlockRange("18000000:18000010"), [18_000_000, 18_000_010]);
  assert.deepEqual(parseBlockRange("18M:+10"), [18_000_000, 18_000_010]);
  assert.deepEqual(parseBlockRange("1_000:2k"), [1000, 2000]);
  assert.deepEqual(parseBlockRange(":100"), [0, 100]);
  assert.deepEqual(parseBlockRange("19990:latest"), [19_990, "latest"]);
  assert.deepEqual(parseBlockRange("19990:"), [19_990, "latest"]);
  assert.deepEqual(parseBlockRange(":latest"), [0, "latest"]);
});

test("--blocks refuses empty and malformed ranges", () => {
  for (const bad of ["10:5", "10:10", "5", "a:b", "1:2:3", "10:+0", "10:+latest", "latest:5"])
    assert.throws(() => parseBlockRange(bad), Error, bad);
});
